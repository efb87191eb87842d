/**
 * What the two askers of a peer's `/cluster` make of an answer that is no document, now that both
 * ask through fetchClusterDoc (src/server/cluster-doc-fetch.ts), against fake nodes on loopback:
 *  - the peer check (PeerCheck) took a non-200 answer with a JSON body (a peer at its
 *    server.max_connections answers 503 with the catalogue's JSON) for a document of another
 *    config: "CONFIG MISMATCH ... config undefined", every slot refused (SLOTS_DISPUTED) while the
 *    peer was busy; and it said nothing of a body that was not JSON. Both now count the peer as
 *    unreachable, refuse no slot, and log once which peer and why;
 *  - the check of a pull's claim (clusterAsker) called a body that was not JSON, or JSON null,
 *    "not read within 1000 ms"; it now says what the body was.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { clusterAsker } from '../../src/server/behind-confirm.js';
import { PeerCheck } from '../../src/server/peer-check.js';
import { FakePeers, sendJson } from '../helpers/fake-peer.js';

const peers = new FakePeers();
after(() => peers.close());

/** busyPeer answers every request as a node at its connection limit does (503, the catalogue's JSON). */
function busyPeer(): Promise<string> {
  return peers.start((_req, res) => {
    res
      .writeHead(503, { 'content-type': 'application/json', connection: 'close' })
      .end(JSON.stringify({ error: { code: 'TOO_MANY_CONNECTIONS', message: 'too many connections' } }));
  });
}

/** checkOf is a peer check of `peer` by a node leading every slot, logging into `lines`. */
function checkOf(peer: string, lines: string[]): PeerCheck {
  const log = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
  return new PeerCheck([peer], 'mine', 'http', log, undefined, undefined, () => [
    { first: 0, last: 16383, leader: '127.0.0.1:1' },
  ]);
}

describe('the peer check of an answer that is no /cluster document', () => {
  it('counts a peer answering 503 with a JSON error as unreachable, refuses no slot, and logs it once', async () => {
    const peer = await busyPeer();
    const lines: string[] = [];
    const check = checkOf(peer, lines);
    try {
      await check.checkAll();
      const view = check.view()[0]!;
      assert.equal(view.state, 'unreachable', 'a refusal says nothing of its config');
      assert.equal(view.disputed_slots, undefined, 'no slot is refused on it');
      assert.equal(check.gate.disputed(0), false);
      assert.equal(lines.filter((l) => l.includes('CONFIG MISMATCH')).length, 0);
      const said = lines.filter((l) => l.includes(`/cluster of ${peer}`));
      assert.equal(said.length, 1, `one line names the peer: ${lines.join('')}`);
      assert.match(
        (JSON.parse(said[0]!) as { err: string }).err,
        /answered 503, not 200: .*TOO_MANY_CONNECTIONS/,
      );
      await check.checkAll();
      assert.equal(
        lines.filter((l) => l.includes(`/cluster of ${peer}`)).length,
        1,
        'not again at the next check',
      );
    } finally {
      await check.stop();
    }
  });

  it('keeps the dispute of a peer that disagreed and then answers 503, as of a silent one', async () => {
    let busy = false;
    const peer = await peers.start((_req, res) => {
      if (busy)
        res
          .writeHead(503, { 'content-type': 'application/json' })
          .end('{"error":{"code":"TOO_MANY_CONNECTIONS"}}');
      else
        sendJson(res, {
          version: 'theirs',
          shards: [{ slots: [0, 16383], leader: { address: '127.0.0.1:2' } }],
        });
    });
    const check = checkOf(peer, []);
    try {
      await check.checkAll();
      assert.equal(check.view()[0]!.disputed_slots, '0-16383');
      busy = true;
      await check.checkAll();
      assert.equal(check.view()[0]!.state, 'unreachable');
      assert.equal(check.view()[0]!.disputed_slots, '0-16383', 'it may still take those writes');
    } finally {
      await check.stop();
    }
  });

  it('logs a peer whose /cluster is not JSON, naming it, and counts it unreachable', async () => {
    const peer = await peers.start((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>a web server</html>');
    });
    const lines: string[] = [];
    const check = checkOf(peer, lines);
    try {
      await check.checkAll();
      assert.equal(check.view()[0]!.state, 'unreachable');
      const said = lines.filter((l) => l.includes(`/cluster of ${peer}`));
      assert.equal(said.length, 1, `one line names the peer: ${lines.join('')}`);
      assert.match((JSON.parse(said[0]!) as { err: string }).err, /the body is not JSON/);
    } finally {
      await check.stop();
    }
  });
});

describe("the check of a pull's claim, of an answer that is no /cluster document", () => {
  it('says the body is not JSON, or not an object, rather than that it was not read in time', async () => {
    let body = '<html>a web server</html>';
    const node = await peers.start((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
    const ask = clusterAsker([node], 'http', undefined, 'mine');
    const first = await ask(node, 0);
    assert.ok('reason' in first, JSON.stringify(first));
    assert.match(first.reason, /the body is not JSON/);
    assert.doesNotMatch(first.reason, /within/);
    body = 'null';
    const second = await ask(node, 0);
    assert.ok('reason' in second, JSON.stringify(second));
    assert.match(second.reason, /the body is JSON null, not a document/);
  });

  it('still reads a 503, another config and a confirmed position as before', async () => {
    const busy = await busyPeer();
    let version = 'theirs';
    const node = await peers.start((_req, res, self) => {
      sendJson(res, {
        version,
        shards: [{ idx: 0, replicas: [{ address: self, local: true, acked_seq: 42 }] }],
      });
    });
    const ask = clusterAsker([busy, node], 'http', undefined, 'mine');
    assert.match(((await ask(busy, 0)) as { reason: string }).reason, /answered 503/);
    assert.deepEqual(await ask(node, 0), { reason: 'it routes with config theirs, this node with mine' });
    version = 'mine';
    assert.deepEqual(await ask(node, 0), { seq: 42 });
    assert.deepEqual(await ask(node, 1), { reason: 'its /cluster lists no replica store of shard 1' });
    assert.deepEqual(await ask('127.0.0.1:1', 0), {
      reason: '127.0.0.1:1 is not another node of this config',
    });
  });
});
