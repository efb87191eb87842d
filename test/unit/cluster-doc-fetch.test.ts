/**
 * fetchClusterDoc (src/server/cluster-doc-fetch.ts), the one ask of a peer's `/cluster` that the
 * peer check and the check of a pull's claim share, against fake nodes (node:http on loopback):
 * a document of this node's config agrees, of another config differs (with its document); no
 * answer within the bound is silent; a body past CLUSTER_DOC_BYTES, a status other than 200 and a
 * body that is not a JSON object are unread, each reason naming the node. A caller's agent keeps
 * its connection between asks; without one each ask has its own, closed after it.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { Agent } from 'undici';
import { type ClusterAnswer, fetchClusterDoc } from '../../src/server/cluster-doc-fetch.js';
import { CLUSTER_DOC_BYTES } from '../../src/util/peer-answer.js';
import { FakePeers, sendJson, writeInMiBs } from '../helpers/fake-peer.js';
import { freePort } from '../helpers/ports.js';

const peers = new FakePeers();
after(() => peers.close());

const HASH = 'abc';
const BOUND_MS = 300;

/**
 * WHOLE_MS bounds the asks whose answer comes whole (and one that must read past 16 MiB before it
 * refuses it): far past what they take, so a loaded machine meets the case, not the bound (the
 * cap's case timed out at 300 ms in a unit tier run). The cases about the bound use BOUND_MS.
 */
const WHOLE_MS = 15_000;

/** ask asks `address` with this node's hash HASH, bounded by `timeoutMs` (and with `agent` when given). */
function ask(address: string, agent?: Agent, timeoutMs = WHOLE_MS): Promise<ClusterAnswer> {
  return fetchClusterDoc(address, {
    scheme: 'http',
    hash: HASH,
    timeoutMs,
    ...(agent === undefined ? {} : { agent }),
  });
}

/** reasonOf is an unread answer's reason, or a silent one's cause, failing on another kind. */
function reasonOf(a: ClusterAnswer, kind: 'silent' | 'unread'): string {
  assert.equal(a.kind, kind, JSON.stringify(a));
  return a.kind === 'silent' ? a.cause : (a as { reason: string }).reason;
}

describe('fetchClusterDoc', () => {
  it('gives a document of this config as agreeing, with the whole document', async () => {
    const doc = { version: HASH, map: { version: 3 }, shards: [{ idx: 0 }] };
    const peer = await peers.start((_req, res) => {
      sendJson(res, doc);
    });
    assert.deepEqual(await ask(peer), { kind: 'agrees', doc });
  });

  it('gives a document of another config (or of none) as differing, with its version and document', async () => {
    let doc: unknown = { version: 'xyz', shards: [] };
    const peer = await peers.start((_req, res) => {
      sendJson(res, doc);
    });
    assert.deepEqual(await ask(peer), { kind: 'differs', version: 'xyz', doc });
    doc = { version: 7 };
    assert.deepEqual(await ask(peer), { kind: 'differs', version: undefined, doc });
  });

  for (const chunked of [false, true])
    it(`refuses ${chunked ? 'a chunked body past' : 'a Content-Length over'} CLUSTER_DOC_BYTES as unread, naming the node`, async () => {
      const big = Buffer.from(JSON.stringify({ version: HASH, pad: 'x'.repeat(CLUSTER_DOC_BYTES) }));
      const peer = await peers.start((_req, res) => {
        res.setHeader('content-type', 'application/json');
        if (chunked) writeInMiBs(res, big);
        else res.end(big);
      });
      const reason = reasonOf(await ask(peer), 'unread');
      assert.match(reason, new RegExp(`^/cluster of ${peer}: `));
      assert.match(
        reason,
        chunked
          ? new RegExp(`the body passed ${CLUSTER_DOC_BYTES} bytes`)
          : new RegExp(`Content-Length \\d+ is more than the ${CLUSTER_DOC_BYTES} bytes`),
      );
    });

  it('gives a status other than 200 as unread, even with a JSON body, showing its start', async () => {
    // A node at its server.max_connections answers so (src/server/connection-limit.ts).
    const peer = await peers.start((_req, res) => {
      res
        .writeHead(503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: { code: 'TOO_MANY_CONNECTIONS', message: 'x'.repeat(1000) } }));
    });
    const reason = reasonOf(await ask(peer), 'unread');
    assert.match(
      reason,
      new RegExp(`^/cluster of ${peer}: answered 503, not 200: \\{"error":\\{"code":"TOO_MANY_CONNECTIONS"`),
    );
    assert.ok(reason.length < 300, `the body is shown in part: ${reason}`);
  });

  it('gives a body that is not a JSON object as unread, saying what it is', async () => {
    let body = '<html>not a node</html>';
    const peer = await peers.start((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end(body);
    });
    assert.match(
      reasonOf(await ask(peer), 'unread'),
      new RegExp(`^/cluster of ${peer}: the body is not JSON \\(`),
    );
    for (const [json, kind] of [
      ['null', 'null'],
      ['[{"version":"abc"}]', 'array'],
      ['"abc"', 'string'],
    ]) {
      body = json!;
      assert.equal(
        reasonOf(await ask(peer), 'unread'),
        `/cluster of ${peer}: the body is JSON ${kind!}, not a document (an object)`,
      );
    }
  });

  it('gives a node that does not answer within the bound as silent, at the bound', async () => {
    const held: Socket[] = [];
    const peer = await peers.start((req) => {
      held.push(req.socket);
    });
    const t0 = performance.now();
    const reason = reasonOf(await ask(peer, undefined, BOUND_MS), 'silent');
    const took = performance.now() - t0;
    for (const s of held) s.destroy();
    assert.match(reason, /timeout/i, 'the cause says the bound passed');
    assert.ok(took >= BOUND_MS - 20 && took < BOUND_MS + 2000, `gave up after ${took} ms`);
    const closed = `127.0.0.1:${await freePort()}`;
    assert.match(reasonOf(await ask(closed, undefined, BOUND_MS), 'silent'), /ECONNREFUSED/);
  });

  it('gives a body that does not end within the bound as unread', async () => {
    const held: Socket[] = [];
    const peer = await peers.start((req, res) => {
      held.push(req.socket);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"version":');
    });
    const reason = reasonOf(await ask(peer, undefined, BOUND_MS), 'unread');
    for (const s of held) s.destroy();
    assert.match(reason, new RegExp(`^/cluster of ${peer}: `));
  });

  it("keeps the caller's agent's connection between asks, and opens one per ask without it", async () => {
    const sockets = new Set<Socket>();
    const peer = await peers.start((req, res) => {
      sockets.add(req.socket);
      sendJson(res, { version: HASH });
    });
    const agent = new Agent({ connections: 1, keepAliveTimeout: 10_000 });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await ask(peer, agent)).kind, 'agrees');
      assert.equal(sockets.size, 1, 'one connection for three asks through the same agent');
    } finally {
      await agent.close();
    }
    sockets.clear();
    for (let i = 0; i < 3; i++) assert.equal((await ask(peer)).kind, 'agrees');
    assert.equal(sockets.size, 3, 'each ask without an agent has its own connection');
  });
});
