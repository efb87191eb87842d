/**
 * A scan and a batch sent to node A whose other part belongs to node B, stopped with SIGSTOP (a
 * node that holds its connections and answers nothing): A gives up on B after
 * `server.forward_timeout_ms` (here 400 ms, not a fixed 2 s) and says so by shard, owner and bound.
 * The scan is a 503 with A's own keys as `partial`, never a 200 that looks whole; the batch
 * reports A's operations applied (they are) and B's as SHARD_UNREACHABLE that may have been applied.
 * Once B is killed (its port refuses connections), B's operations are reported not applied.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ShardMap } from '../../src/routing/shard-map.js';
import { Duo } from '../helpers/duo.js';

const FORWARD_MS = 400;

describe('a scan and a batch spanning a node stopped with SIGSTOP', () => {
  let duo: Duo | undefined;
  let a = '';
  let b = '';
  let map: ShardMap;

  before(async () => {
    duo = await Duo.start('forward-stopped', { extraToml: `[server]\nforward_timeout_ms = ${FORWARD_MS}\n` });
    ({ A: a, B: b, map } = duo);
  });

  after(async () => {
    await duo?.stop();
  });

  it('names the owner and the bound it missed after forward_timeout_ms, and reports no part wrongly', async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `st:${String(i).padStart(2, '0')}`);
    const ownerOf = (k: string): string => (map.shardOf(k) === 0 ? a : b);
    assert.ok(keys.some((k) => ownerOf(k) === a) && keys.some((k) => ownerOf(k) === b));
    for (const k of keys) {
      const r = await fetch(`http://${ownerOf(k)}/kv/${k}`, { method: 'PUT', body: 'old' });
      assert.equal(r.status, 204);
    }
    const child = duo!.cluster.process(b).child;
    child.kill('SIGSTOP');
    try {
      const bound = `no answer within ${FORWARD_MS} ms (server.forward_timeout_ms)`;
      let start = performance.now();
      const scan = await fetch(`http://${a}/kv?prefix=st:&limit=100`);
      const scanMs = performance.now() - start;
      assert.equal(scan.status, 503);
      const page = (await scan.json()) as {
        error: { code: string; message: string };
        partial: { items: { key: string }[] };
      };
      assert.equal(page.error.code, 'SHARD_UNREACHABLE');
      assert.equal(page.error.message, `scan incomplete: shard 1 (owner ${b}: ${bound})`);
      assert.deepEqual(
        page.partial.items.map((i) => i.key),
        keys.filter((k) => ownerOf(k) === a),
      );
      assert.ok(scanMs < 1800, `the scan answered after ${scanMs.toFixed(0)} ms`);

      start = performance.now();
      const batch = await fetch(`http://${a}/kv/_batch`, {
        method: 'POST',
        body: JSON.stringify(keys.map((key) => ({ op: 'set', key, value: 'new' }))),
      });
      const batchMs = performance.now() - start;
      assert.equal(batch.status, 200);
      const { results } = (await batch.json()) as {
        results: { ok: boolean; error?: { code: string; message: string } }[];
      };
      for (const [i, k] of keys.entries()) {
        if (ownerOf(k) === a) assert.deepEqual(results[i], { ok: true }, k);
        else {
          assert.equal(results[i]!.error?.code, 'SHARD_UNREACHABLE', k);
          assert.equal(
            results[i]!.error.message,
            `shard 1 (owner ${b}) did not answer: ${bound}; the operations sent to it may have been applied`,
          );
        }
      }
      assert.ok(batchMs < 1800, `the batch answered after ${batchMs.toFixed(0)} ms`);
      // What was reported applied is.
      for (const k of keys.filter((x) => ownerOf(x) === a))
        assert.equal(await (await fetch(`http://${a}/kv/${k}`)).text(), 'new', k);
    } finally {
      child.kill('SIGCONT');
    }
  });

  it('says none of the operations for an owner killed with SIGKILL was applied (its connection was refused)', async () => {
    await duo!.cluster.kill(b);
    const keys = ['gone:1', 'gone:2', 'gone:3', 'gone:4', 'gone:5', 'gone:6'];
    const onB = keys.filter((k) => map.shardOf(k) === 1);
    assert.ok(onB.length > 0 && onB.length < keys.length);
    const batch = await fetch(`http://${a}/kv/_batch`, {
      method: 'POST',
      body: JSON.stringify(keys.map((key) => ({ op: 'set', key, value: 'v' }))),
    });
    const { results } = (await batch.json()) as {
      results: { ok: boolean; error?: { code: string; message: string } }[];
    };
    for (const [i, k] of keys.entries()) {
      if (map.shardOf(k) === 0) assert.deepEqual(results[i], { ok: true }, k);
      else {
        assert.equal(results[i]!.error?.code, 'SHARD_UNREACHABLE', k);
        assert.match(
          results[i]!.error.message,
          new RegExp(
            `^shard 1 \\(owner ${b}\\) could not be reached: .*; nothing was sent to it, so none of its operations was applied$`,
          ),
        );
      }
    }
  });
});
