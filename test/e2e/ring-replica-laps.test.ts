/**
 * A ring replica lapped all along does not resync (src/replication/ring-source.ts,
 * docs/correctness.md): node B's stores follow node A's on the other worker of one process through
 * the smallest ring (`ring_bytes` 64 KiB) while batches larger than the ring (dropped: the replica
 * pulls them from A's log through the process's own `/_repl/pull`) alternate with small writes
 * (taken from the ring, a few records ahead of the last seq A's worker publishes). Each pull of the
 * lapped replica is checked by the leader against its store's last seq: never REPLICA_AHEAD, never
 * a resync, and B ends with every value.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ShardMap } from '../../src/routing/shard-map.js';
import { keyInShard, startHostedPair } from '../helpers/hosted-pair.js';

let A = '';
let B = '';
let shardMap: ShardMap;
let stop = (): Promise<void> => Promise.resolve();

before(async () => {
  ({ A, B, shardMap, stop } = await startHostedPair('[replication]\nring_bytes = 65536\n'));
});

after(() => stop());

interface StoreStats {
  node: string;
  role: string;
  resyncs?: number;
  replicaErrors?: number;
}

describe('a ring replica lapped by batches larger than its ring', () => {
  it('follows through its leader log and the ring without a resync', async () => {
    const expected = new Map<string, string>();
    const big = (shard: number, round: number): Promise<void> => {
      // Ten 8000-byte values in one batch: ~80 KB, more than the 64 KiB ring holds.
      const ops = Array.from({ length: 10 }, (_, i) => {
        const key = keyInShard(shardMap, shard, `big${round}-${i}-`);
        const value = `${round}`.padEnd(8000, 'x');
        expected.set(key, value);
        return { op: 'set', key, value };
      });
      return fetch(`http://${A}/kv/_batch`, { method: 'POST', body: JSON.stringify(ops) }).then(async (r) => {
        assert.equal(r.status, 200, await r.text());
      });
    };
    const small = async (shard: number, round: number, i: number): Promise<void> => {
      const key = keyInShard(shardMap, shard, `small${round}-${i}-`);
      expected.set(key, `s${round}`);
      const r = await fetch(`http://${A}/kv/${key}`, { method: 'PUT', body: `s${round}` });
      assert.equal(r.status, 204, await r.text());
    };
    for (let round = 0; round < 30; round++) {
      await Promise.all([big(0, round), big(1, round), big(0, round + 1000)]);
      for (let i = 0; i < 4; i++) await small(i % 2, round, i);
    }
    // B holds every value (bounded wait: it may still be catching up).
    const deadline = Date.now() + 30000;
    const missing = new Map(expected);
    while (missing.size > 0 && Date.now() < deadline) {
      for (const [key, value] of missing) {
        const r = await fetch(`http://${B}/kv/${key}`);
        if (r.status === 200 && (await r.text()) === value) missing.delete(key);
        else if (r.status !== 200) await r.arrayBuffer();
        else break;
      }
      if (missing.size > 0) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(missing.size, 0, `B lacks ${missing.size} of ${expected.size} values`);
    const doc = (await (await fetch(`http://${A}/stats`)).json()) as { stores: StoreStats[] };
    const replicas = doc.stores.filter((s) => s.role === 'replica');
    assert.equal(replicas.length, 2, JSON.stringify(doc.stores));
    for (const s of replicas) assert.equal(s.resyncs, 0, `a replica resynced: ${JSON.stringify(s)}`);
  });
});
