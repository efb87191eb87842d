/**
 * Epoch numbers (src/routing/epoch-numbers.ts, docs/failover.md "Epoch numbers"): a new epoch is
 * above everything its map knows and names its leader, so two nodes choosing from one history
 * never pick one number, and a merge never lets a number a dropped line reached come back.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/validate-config.js';
import {
  EPOCH_STRIDE,
  highestEpoch,
  MAX_EPOCH,
  MAX_SHARD_MEMBERS,
  memberIndex,
  nextEpoch,
} from '../../src/routing/epoch-numbers.js';
import { checkSuccessor, initialLiveMap, type LiveMap, promotedMap } from '../../src/routing/live-map.js';
import { mergedMap } from '../../src/routing/map-merge.js';
import { restartedMap } from '../../src/server/restart-epochs.js';

const CONFIG = [
  { idx: 0, name: 'shard-0', slots: { first: 0, last: 16383 }, address: 'b:1', replicas: ['c:1', 'a:1'] },
];
const shard = (m: LiveMap) => m.shards[0]!;

describe('epoch numbers', () => {
  it('names the leader by its index among the members in address order', () => {
    const s = shard(initialLiveMap(CONFIG));
    assert.deepEqual(
      ['a:1', 'b:1', 'c:1', 'd:1'].map((n) => memberIndex(s, n)),
      [0, 1, 2, -1],
    );
  });

  it('gives each member its own number above the epoch, from any base', () => {
    for (const epoch of [0, 1, 3, 63, 64, 65, 127, 1000, 123456]) {
      const s = { ...shard(initialLiveMap(CONFIG)), epoch };
      const picks = ['a:1', 'b:1', 'c:1'].map((n) => nextEpoch(s, n));
      assert.equal(new Set(picks).size, 3, `from ${epoch}: ${picks.join(', ')}`);
      for (const [i, e] of picks.entries()) {
        assert.ok(e > epoch, `${e} above ${epoch}`);
        assert.equal(e % EPOCH_STRIDE, i);
        assert.ok(e - epoch <= 2 * EPOCH_STRIDE);
      }
    }
  });

  it('goes above the floor and etcd revision too', () => {
    const s = { ...shard(initialLiveMap(CONFIG)), epoch: 65, floor: 200 };
    assert.equal(highestEpoch(s), 200);
    assert.equal(nextEpoch(s, 'a:1'), 256);
    assert.equal(nextEpoch(s, 'c:1', 300), 322);
  });

  it('refuses a node that is not a member, and a number above u32', () => {
    const s = shard(initialLiveMap(CONFIG));
    assert.throws(() => nextEpoch(s, 'z:1'), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => nextEpoch({ ...s, epoch: MAX_EPOCH - 10 }, 'c:1'), {
      code: 'UNAVAILABLE',
      message: /would not fit in 32 bits/,
    });
  });

  it('a restart and a failover from one history pick different numbers', () => {
    const base = initialLiveMap(CONFIG);
    const restart = restartedMap(base, new Map([[0, 20]]));
    const failover = promotedMap(base, 0, 'c:1', nextEpoch(shard(base), 'c:1'), 20);
    assert.notEqual(shard(restart).epoch, shard(failover).epoch);
  });

  it('a merge keeps the highest number the dropped line reached, and a successor may not forget it', () => {
    const base = initialLiveMap(CONFIG);
    // b:1 restarts alone twice; c:1 was promoted meanwhile from the base.
    const once = restartedMap(base, new Map([[0, 20]]));
    const twice = restartedMap(once, new Map([[0, 25]]));
    const failover = promotedMap(base, 0, 'c:1', nextEpoch(shard(base), 'c:1'), 20);
    const merge = mergedMap(twice, failover);
    assert.ok(merge !== undefined);
    assert.equal(shard(merge.map).leader, 'c:1');
    assert.equal(shard(merge.map).floor, shard(twice).epoch);
    // Both sides compute the same merge.
    assert.deepEqual(mergedMap(failover, twice)?.map, merge.map);
    // b:1's next epoch goes above its lost ones.
    const back = nextEpoch(shard(merge.map), 'b:1');
    assert.ok(back > shard(twice).epoch, `${back} above the lost ${shard(twice).epoch}`);
    // The floor passed is dropped by the next promotion, and a map forgetting it is no successor.
    assert.equal(shard(promotedMap(merge.map, 0, 'b:1', back, 30)).floor, undefined);
    const forgets = { ...merge.map, version: merge.map.version + 1, shards: [{ ...shard(failover) }] };
    assert.throws(() => {
      checkSuccessor(merge.map, forgets);
    }, /forgets epoch/);
  });

  it(`refuses a shard of more than ${MAX_SHARD_MEMBERS} members in the config`, () => {
    const replicas = Array.from({ length: MAX_SHARD_MEMBERS }, (_, i) => `10.0.${i >> 8}.${i & 255}:7000`);
    assert.throws(
      () => validateConfig({ shards: [{ name: 's', idx: 0, address: '10.1.0.1:7000', replicas }] }, 'test'),
      /at most 64 members/,
    );
  });
});
