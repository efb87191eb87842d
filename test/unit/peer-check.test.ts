/**
 * PeerCheck asks the other nodes for their config hash and reports agreement, disagreement (logged
 * as an error) and unreachable peers.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { EARLY_CHECK_MS, PeerCheck } from '../../src/server/peer-check.js';
import { freePort } from '../helpers/ports.js';

function serveCluster(port: number, version: string): Promise<Server> {
  const srv = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ version }));
  });
  return new Promise((resolve) =>
    srv.listen(port, '127.0.0.1', () => {
      resolve(srv);
    }),
  );
}

describe('PeerCheck', () => {
  const servers: Server[] = [];
  let same = '';
  let other = '';
  let gone = '';

  before(async () => {
    const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
    servers.push(await serveCluster(p1, 'abc'), await serveCluster(p2, 'xyz'));
    [same, other, gone] = [`127.0.0.1:${p1}`, `127.0.0.1:${p2}`, `127.0.0.1:${p3}`];
  });

  after(() => {
    for (const s of servers) s.close();
  });

  it('reports which peers agree, disagree or do not answer, and logs the mismatch', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    const check = new PeerCheck([same, other, gone], 'abc', 'http', log);
    assert.deepEqual(
      check.view().map((p) => p.state),
      ['unknown', 'unknown', 'unknown'],
    );
    await check.checkAll();
    assert.deepEqual(
      check.view().map((p) => [p.address, p.state, p.version]),
      [
        [same, 'agrees', 'abc'],
        [other, 'disagrees', 'xyz'],
        [gone, 'unreachable', undefined],
      ],
    );
    assert.deepEqual(
      check
        .view()
        .filter((p) => p.state === 'disagrees')
        .map((p) => p.address),
      [other],
    );
    assert.equal(lines.filter((l) => l.includes('CONFIG MISMATCH')).length, 1);
    await check.checkAll();
    assert.equal(lines.filter((l) => l.includes('CONFIG MISMATCH')).length, 1, 'logged once per change');
    await check.stop();
  });
});

describe('PeerCheck slot gate', () => {
  it('refuses the slots a disagreeing peer gives another leader, keeps them while it is silent, frees them once it agrees', async () => {
    const port = await freePort();
    const peer = `127.0.0.1:${port}`;
    const me = '127.0.0.1:1';
    // The peer splits the slots in two where this node has them in three: it leads 8192-16383.
    let doc: unknown = {
      version: 'two',
      shards: [
        { slots: [0, 8191], leader: { address: me } },
        { slots: [8192, 16383], leader: { address: peer } },
      ],
    };
    const srv = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(doc));
    });
    await new Promise<void>((resolve) => srv.listen(port, '127.0.0.1', resolve));
    const mine = [
      { first: 0, last: 5460, leader: me },
      { first: 5461, last: 10922, leader: peer },
      { first: 10923, last: 16383, leader: '127.0.0.1:3' },
    ];
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    const check = new PeerCheck([peer], 'three', 'http', log, undefined, undefined, () => mine);
    try {
      assert.equal(check.gate.disputed(6000), false, 'nothing is refused before any check');
      await check.checkAll();
      const refused = (s: number): boolean => check.gate.disputed(s);
      assert.deepEqual([0, 5460, 5461, 8191, 8192, 10922, 10923, 16383].map(refused), [
        false,
        false,
        true,
        true,
        false,
        false,
        true,
        true,
      ]);
      assert.equal(check.view()[0]!.disputed_slots, '5461-8191,10923-16383');
      const e = check.gate.refusal(6000)!;
      assert.equal(e.code, 'SLOTS_DISPUTED');
      assert.equal(e.status, 503);
      assert.match(
        e.message,
        new RegExp(`slot 6000 .*${peer}.*config two.*config three.*5461-8191,10923-16383`),
      );
      assert.ok(lines.some((l) => l.includes('CONFIG MISMATCH') && l.includes('5461-8191,10923-16383')));

      await new Promise<void>((resolve) => {
        srv.close(() => {
          resolve();
        });
      });
      await check.checkAll();
      assert.equal(check.view()[0]!.state, 'unreachable');
      assert.equal(refused(6000), true, 'a silent peer that disagreed may still take those writes');
      assert.match(check.gate.refusal(6000)!.message, /has not answered since/);

      doc = { version: 'three', shards: [] };
      await new Promise<void>((resolve) => srv.listen(port, '127.0.0.1', resolve));
      await check.checkAll();
      assert.equal(check.view()[0]!.state, 'agrees');
      assert.equal(refused(6000), false);
      assert.equal(check.view()[0]!.disputed_slots, undefined);
    } finally {
      await check.stop();
      srv.close();
    }
  });

  it('refuses every slot when a disagreeing peer lists no shards it can read, and none for a silent peer that never disagreed', async () => {
    const port = await freePort();
    const srv = await serveCluster(port, 'other');
    const silent = `127.0.0.1:${await freePort()}`;
    const check = new PeerCheck(
      [`127.0.0.1:${port}`, silent],
      'mine',
      'http',
      pino({ level: 'silent' }),
      undefined,
      undefined,
      () => [{ first: 0, last: 16383, leader: '127.0.0.1:1' }],
    );
    try {
      await check.checkAll();
      assert.equal(check.view()[0]!.disputed_slots, '0-16383');
      assert.equal(check.view()[1]!.disputed_slots, undefined);
    } finally {
      await check.stop();
      srv.close();
    }
  });
});

describe('PeerCheck early checks', () => {
  it('asks a peer at once when it refused a forwarded request as disputed, at most once per EARLY_CHECK_MS, and never before the first round', async (t) => {
    const asked = new Map<string, number>();
    // The peers agree at the first round, then answer with another config.
    let version = 'mine';
    const serve = async (): Promise<[Server, string]> => {
      const port = await freePort();
      const address = `127.0.0.1:${port}`;
      const srv = createServer((_req, res) => {
        asked.set(address, (asked.get(address) ?? 0) + 1);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ version }));
      });
      await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
      return [srv, address];
    };
    const [s1, one] = await serve();
    const [s2, two] = await serve();
    const check = new PeerCheck([one, two], 'mine', 'http', pino({ level: 'silent' }));
    try {
      // Before the first round (the node's stores are not attached yet) nothing is asked.
      check.refusedBy(one, 'SLOTS_DISPUTED');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(asked.get(one), undefined, 'asked before the first round');
      await check.checkAll();
      version = 'other';
      const first = Date.now();
      check.refusedBy(one, 'SLOTS_DISPUTED');
      const deadline = Date.now() + 10_000;
      while (check.view()[0]!.state === 'agrees') {
        assert.ok(Date.now() < deadline, 'the early check answered within 10 s');
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(check.view()[0]!.state, 'disagrees', 'learnt from the early check, without a round');
      assert.equal(check.view()[1]!.state, 'agrees', 'the other peer was not asked');
      // Within the bound: not asked again; other codes and addresses ask nothing.
      const withinBound = Date.now() - first < EARLY_CHECK_MS;
      check.refusedBy(one, 'CONFIG_MISMATCH');
      check.refusedBy(two, 'NOT_FOUND');
      check.refusedBy('127.0.0.1:1', 'SLOTS_DISPUTED');
      await new Promise((r) => setTimeout(r, EARLY_CHECK_MS));
      // The bound is kept on a monotonic clock: a wall clock stepped back an hour holds nothing off.
      t.mock.method(Date, 'now', () => first - 3_600_000);
      check.refusedBy(one, 'SLOTS_DISPUTED');
      t.mock.restoreAll();
      // stop() waits for every check in flight, so each one started has been counted.
      await check.stop();
      check.refusedBy(one, 'SLOTS_DISPUTED');
      assert.equal(
        asked.get(one),
        withinBound ? 3 : 4,
        'the round, once, then once more after EARLY_CHECK_MS',
      );
      assert.equal(asked.get(two), 1, 'the round only');
    } finally {
      s1.close();
      s2.close();
    }
  });
});
