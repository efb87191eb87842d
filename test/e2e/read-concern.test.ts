/**
 * Reads with a read concern, `GET /kv/{key}?w=N&timeout_ms=T` (docs/api.md, "Write concern and
 * what reads see"): the shard's leader answers only once N replicas hold everything it had when
 * it read the key, else 504 REPLICATION_TIMEOUT; `w` is checked as a write's is. One shard led by
 * A with replicas B and C, each its own process (test/helpers/trio.ts). On the old code every
 * `w` here was refused as an unknown parameter (400), so each case below failed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { DistkvError } from '../../src/errors.js';
import { Trio } from '../helpers/trio.js';

/** errorOf reads a JSON error answer's code and message. */
async function errorOf(r: Response): Promise<{ code: string; message: string }> {
  return ((await r.json()) as { error: { code: string; message: string } }).error;
}

describe('GET with a read concern (w=N)', { timeout: 120000 }, () => {
  let trio: Trio;

  before(async () => {
    trio = await Trio.start('read-concern');
    await trio.cluster.following();
  });

  after(async () => {
    await trio.stop();
  });

  it('answers the value, or 404, once replicas hold it; w=0 and no w answer as before', async () => {
    const { A, client } = trio;
    await client.put('rc-a', 'one', { w: 2 });
    for (const q of ['?w=1', '?w=2', '?w=2&timeout_ms=10000', '?w=0', '?w=0&max_lag_ms=5', '']) {
      const r = await fetch(`http://${A}/kv/rc-a${q}`);
      assert.equal(r.status, 200, q);
      assert.equal(await r.text(), 'one', q);
      assert.match(r.headers.get('etag') ?? '', /^"\d+\.\d+"$/, q);
    }
    const head = await fetch(`http://${A}/kv/rc-a?w=1`, { method: 'HEAD' });
    assert.equal(head.status, 200, 'HEAD shares the GET route');
    const missing = await fetch(`http://${A}/kv/rc-none?w=1`);
    assert.equal(missing.status, 404);
    assert.equal((await errorOf(missing)).code, 'NOT_FOUND');
    // The client library and its versioned read.
    assert.equal((await client.get('rc-a', { w: 1 }))?.toString(), 'one');
    assert.equal((await client.getVersioned('rc-a', { w: 2, timeoutMs: 10000 }))?.value.toString(), 'one');
    assert.equal(await client.get('rc-none', { w: 1 }), undefined);
  });

  it('refuses a bad w or timeout_ms with 400 INVALID_ARGUMENT naming it', async () => {
    const { A, B } = trio;
    for (const [q, name] of [
      ['w=-1', 'w'],
      ['w=3', 'w'],
      ['w=abc', 'w'],
      ['w=', 'w'],
      ['w=1&w=1', 'w'],
      ['w=1&timeout_ms=0', 'timeout_ms'],
      ['w=1&timeout_ms=600001', 'timeout_ms'],
    ] as const) {
      const r = await fetch(`http://${A}/kv/rc-a?${q}`);
      assert.equal(r.status, 400, q);
      const e = await errorOf(r);
      assert.equal(e.code, 'INVALID_ARGUMENT', q);
      assert.match(e.message, new RegExp(`\\b${name}\\b`), q);
    }
    // At a replica's node: sent to the leader, which refuses it (the node serving a key checks its query).
    const atB = await fetch(`http://${B}/kv/rc-a?w=9`);
    assert.equal(atB.status, 400);
    assert.equal((await errorOf(atB)).code, 'INVALID_ARGUMENT');
    const c = new DistkvClient({ urls: [`http://${A}`] });
    try {
      await assert.rejects(c.get('rc-a', { timeoutMs: 100 }), (e: unknown) => {
        return e instanceof DistkvError && e.code === 'INVALID_ARGUMENT';
      });
    } finally {
      await c.close();
    }
  });

  it("sends a read with w from a replica's node to the leader; a plain read stays at the replica", async () => {
    const { A, B } = trio;
    const plain = await fetch(`http://${B}/kv/rc-a`, { redirect: 'manual' });
    assert.equal(plain.status, 200);
    assert.notEqual(plain.headers.get('x-distkv-lag'), null, 'the replica answered');
    const r = await fetch(`http://${B}/kv/rc-a?w=1`, { redirect: 'manual' });
    assert.equal(r.status, 307);
    assert.equal(r.headers.get('location'), `http://${A}/kv/rc-a?w=1`);
    // A client made for replica reads reads the leader when it asks for w.
    const c = new DistkvClient({ urls: [`http://${B}`], replicaReads: true });
    try {
      const v = await c.getVersioned('rc-a', { w: 1 });
      assert.ok(v !== undefined);
      assert.equal(v.value.toString(), 'one');
      assert.equal(v.lag, undefined, 'answered by the leader');
    } finally {
      await c.close();
    }
  });

  it('answers 504, not a write no replica holds, while the replicas are stopped', async () => {
    const { A, B, C, cluster, client } = trio;
    await client.put('rc-b', 'kept', { w: 2 });
    await client.put('rc-gone', 'there', { w: 2 });
    await cluster.stopNode(B);
    await cluster.stopNode(C);
    try {
      // Nothing written since they stopped: their last acks cover all A had, so it answers.
      const before = await fetch(`http://${A}/kv/rc-b?w=2&timeout_ms=5000`);
      assert.equal(before.status, 200);
      assert.equal(await before.text(), 'kept');
      await client.put('rc-b', 'unreplicated'); // w=0: acknowledged once durable at A alone
      await client.delete('rc-gone');
      const plain = await fetch(`http://${A}/kv/rc-b`);
      assert.equal(await plain.text(), 'unreplicated', 'a plain read shows it');
      for (const key of ['rc-b', 'rc-gone', 'rc-a']) {
        const r = await fetch(`http://${A}/kv/${key}?w=1&timeout_ms=300`);
        assert.equal(r.status, 504, `${key}: the bound is A's last seq, which no replica holds`);
        const e = await errorOf(r);
        assert.equal(e.code, 'REPLICATION_TIMEOUT');
        assert.match(e.message, /^0 of 1 replicas acknowledged seq \d+ within 300 ms/);
      }
      await assert.rejects(client.get('rc-b', { w: 1, timeoutMs: 300 }), (e: unknown) => {
        return e instanceof DistkvError && e.code === 'REPLICATION_TIMEOUT';
      });
    } finally {
      await cluster.startNode(B);
      await cluster.startNode(C);
    }
    await cluster.following();
    // Back, they catch up: the read answers what they now hold.
    assert.equal((await client.get('rc-b', { w: 2, timeoutMs: 10000 }))?.toString(), 'unreplicated');
    assert.equal(await client.get('rc-gone', { w: 2, timeoutMs: 10000 }), undefined);
  });
});
