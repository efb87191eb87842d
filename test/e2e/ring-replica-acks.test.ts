/**
 * A replica on another worker of its leader's process follows through a SharedArrayBuffer ring
 * (src/replication/ring-source.ts). It takes ring batches only once a pull of its, through the
 * process's own `/_repl/pull`, has been answered by the leader, and its ack counts for `w=N` only
 * from then on (src/replication/leader-state.ts): `w=1` writes must still be answered, at once,
 * and the replica must hold them.
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
  ({ A, B, shardMap, stop } = await startHostedPair());
});

after(() => stop());

describe('a ring replica (leader and replica on two workers of one process)', () => {
  it('acknowledges w=1 writes promptly and holds them', async () => {
    for (const shard of [0, 1]) {
      for (let i = 0; i < 20; i++) {
        const key = keyInShard(shardMap, shard, `ring${i}-`);
        const t0 = Date.now();
        const r = await fetch(`http://${A}/kv/${key}?w=1&timeout_ms=10000`, { method: 'PUT', body: `v${i}` });
        assert.equal(r.status, 204, `${key}: ${r.status} ${await r.text()}`);
        assert.ok(Date.now() - t0 < 5000, `${key} took ${Date.now() - t0} ms`);
        const read = await fetch(`http://${B}/kv/${key}`);
        assert.equal(read.status, 200, `the replica does not hold ${key}`);
        assert.equal(await read.text(), `v${i}`);
      }
    }
  });
});
