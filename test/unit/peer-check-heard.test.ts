/**
 * PeerCheck and the peers' own asks (src/server/peer-check.ts): a peer counted unreachable that
 * asks this node for its `/cluster`, naming itself (PEER_HEADER), is asked back at once; nothing is
 * asked before this node's first round (its stores are not attached to the live map then: a map
 * taken before turned no store over, and the stores opened as the older map had them); and one
 * late answer of a peer that answered does not count it unreachable, a second in a row does. A
 * peer that disagreed and asks again (restarted with the right file) is asked back at once too.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { PEER_HEADER } from '../../src/server/cluster-doc-fetch.js';
import { PeerCheck } from '../../src/server/peer-check.js';
import { freePort } from '../helpers/ports.js';

/** Peer is a stand-in node answering `/cluster` with config `mine`; `stalled` holds every answer. */
interface Peer {
  address: string;
  port: number;
  /** asks are the PEER_HEADER values of the asks it received, in order ('' when absent). */
  asks: string[];
  stalled: boolean;
  /** version is the config hash it answers ('mine': this node's). */
  version: string;
  listen(): Promise<void>;
  close(): Promise<void>;
}

const servers: Server[] = [];
after(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

async function peer(): Promise<Peer> {
  const port = await freePort();
  const held: ServerResponse[] = [];
  const p: Peer = {
    address: `127.0.0.1:${port}`,
    port,
    asks: [],
    stalled: false,
    version: 'mine',
    listen: () => new Promise<void>((r) => srv.listen(port, '127.0.0.1', r)),
    close: () =>
      new Promise<void>((r) => {
        for (const res of held.splice(0)) res.destroy();
        srv.closeAllConnections();
        srv.close(() => {
          r();
        });
      }),
  };
  const srv = createServer((req: IncomingMessage, res: ServerResponse) => {
    p.asks.push(String(req.headers[PEER_HEADER] ?? ''));
    if (p.stalled) {
      held.push(res);
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ version: p.version }));
  });
  servers.push(srv);
  return p;
}

/** until polls `probe` every 10 ms for up to `ms`; returns whether it held. */
async function until(probe: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!probe()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

const quiet = pino({ level: 'silent' });

describe('PeerCheck and a peer that asks', () => {
  it('asks back at once a peer it counted unreachable when that peer asks naming itself', async () => {
    const b = await peer();
    const check = new PeerCheck(
      [b.address],
      'mine',
      'http',
      quiet,
      undefined,
      undefined,
      undefined,
      undefined,
      ['127.0.0.1:1'],
    );
    try {
      await check.checkAll();
      assert.equal(check.view()[0]!.state, 'unreachable', 'B was not listening at the round');
      await b.listen();
      // B's ask of this node's /cluster names B (the route hands its header to heardFrom).
      check.heardFrom(`127.0.0.9:9, ${b.address}`);
      assert.ok(
        await until(() => check.view()[0]!.state === 'agrees', 5000),
        `B seen up without waiting for a round: ${JSON.stringify(check.view())}`,
      );
      assert.deepEqual(b.asks, ['127.0.0.1:1'], 'asked once, naming this node');
      check.heardFrom(b.address);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(b.asks.length, 1, 'a peer it counts up is not asked again');
    } finally {
      await check.stop();
      await b.close();
    }
  });

  it('asks back at once a peer that disagreed when it asks again (restarted with the right file)', async () => {
    const b = await peer();
    b.version = 'edited';
    await b.listen();
    const check = new PeerCheck([b.address], 'mine', 'http', quiet);
    try {
      await check.checkAll();
      assert.equal(check.view()[0]!.state, 'disagrees');
      // B restarted with this node's file: its first round asks here, naming itself.
      b.version = 'mine';
      check.heardFrom(b.address);
      // Before, its slots stayed refused until this node's next round (up to PEER_CHECK_MS): a
      // write right after B's restart was answered SLOTS_DISPUTED (config-removes-leader).
      assert.ok(
        await until(() => check.view()[0]!.state === 'agrees', 5000),
        `B seen agreeing without waiting for a round: ${JSON.stringify(check.view())}`,
      );
    } finally {
      await check.stop();
      await b.close();
    }
  });

  it('asks nothing before its first round, whoever asks it (its stores are not attached yet)', async () => {
    const b = await peer();
    await b.listen();
    const check = new PeerCheck([b.address], 'mine', 'http', quiet);
    try {
      check.heardFrom(b.address);
      check.checkSoon(b.address);
      check.refusedBy(b.address, 'SLOTS_DISPUTED');
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(b.asks, [], 'asked before the first round');
      assert.equal(check.view()[0]!.state, 'unknown');
      await check.checkAll();
      assert.deepEqual(b.asks, [''], 'the first round asks (no addresses of its own to name)');
    } finally {
      await check.stop();
      await b.close();
    }
  });
});

describe('PeerCheck and a late peer', { timeout: 30000 }, () => {
  it('counts a peer that answered unreachable after two late checks in a row, not one', async () => {
    const b = await peer();
    await b.listen();
    const check = new PeerCheck([b.address], 'mine', 'http', quiet);
    const state = (): string => check.view()[0]!.state;
    try {
      await check.checkAll();
      assert.equal(state(), 'agrees');
      b.stalled = true;
      await check.checkAll();
      assert.equal(state(), 'agrees', 'one late answer (a GC pause) keeps what it last said');
      b.stalled = false;
      await check.checkAll();
      assert.equal(state(), 'agrees');
      b.stalled = true;
      await check.checkAll();
      assert.equal(state(), 'agrees', 'late once again, after an answer: still up');
      await check.checkAll();
      assert.equal(state(), 'unreachable', 'late twice in a row');
      await check.checkAll();
      assert.equal(state(), 'unreachable');
      b.stalled = false;
      await check.checkAll();
      assert.equal(state(), 'agrees');
      // No process there (connection refused): counted at once.
      await b.close();
      await check.checkAll();
      assert.equal(state(), 'unreachable', 'a refused connection counts at once');
    } finally {
      await check.stop();
      await b.close().catch(() => undefined);
    }
  });

  it('counts a late peer that never answered unreachable at once', async () => {
    const b = await peer();
    b.stalled = true;
    await b.listen();
    const check = new PeerCheck([b.address], 'mine', 'http', quiet);
    try {
      await check.checkAll();
      assert.equal(check.view()[0]!.state, 'unreachable');
    } finally {
      await check.stop();
      await b.close();
    }
  });
});
