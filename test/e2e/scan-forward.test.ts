/**
 * A scan forwarded to another node covers only the shards it was asked for: here node B leads
 * shard 1 and also holds the replica of A's shard 0, so a scan at A that asked B for "its shards"
 * would get shard 0's keys twice (once from A's leader, once from B's replica).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ShardMap } from '../../src/routing/shard-map.js';
import { Duo } from '../helpers/duo.js';

describe('a scan across a node that leads one shard and replicates another', () => {
  let duo: Duo | undefined;
  let a = '';
  let b = '';
  let map: ShardMap;

  before(async () => {
    duo = await Duo.start('scan-forward', { replicaOfA: true });
    ({ A: a, B: b, map } = duo);
  });

  after(async () => {
    await duo?.stop();
  });

  it('lists every key once, from whichever node it is sent to', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `twice:${String(i).padStart(2, '0')}`);
    assert.ok(keys.some((k) => map.shardOf(k) === 0) && keys.some((k) => map.shardOf(k) === 1));
    for (const k of keys) {
      const owner = map.shardOf(k) === 0 ? a : b;
      const r = await fetch(`http://${owner}/kv/${k}?w=${map.shardOf(k) === 0 ? 1 : 0}`, {
        method: 'PUT',
        body: k,
      });
      assert.equal(r.status, 204, k);
    }
    for (const node of [a, b]) {
      const r = await fetch(`http://${node}/kv?prefix=twice:&limit=1000`);
      assert.equal(r.status, 200);
      const body = (await r.json()) as { items: { key: string }[]; next: string | null };
      assert.deepEqual(
        body.items.map((i) => i.key),
        keys,
        `scan at ${node === a ? 'A' : 'B'}`,
      );
      assert.equal(body.next, null);
    }
  });

  it('answers a forwarded part for the shards it names only', async () => {
    const r = await fetch(`http://${b}/kv?prefix=twice:&limit=1000&local=1&shards=1`);
    assert.equal(r.status, 200);
    const body = (await r.json()) as { items: { key: string }[] };
    assert.ok(body.items.length > 0);
    for (const i of body.items) assert.equal(map.shardOf(i.key), 1, i.key);
    const bad = await fetch(`http://${b}/kv?prefix=&local=1&shards=7`);
    assert.equal(bad.status, 400);
  });
});
