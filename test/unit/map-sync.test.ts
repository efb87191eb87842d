/**
 * mapSync (src/coordination/map-sync.ts): what a node with etcd does with etcd's map against its
 * own. Newer is adopted, older or missing is replaced; one of the same version with other entries
 * (maps made apart from etcd) is settled by the merge rule of maps made apart and written back a
 * version above both, or logged as a conflict when the rule does not settle it (before, it was
 * ignored without a word).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../src/config/load-config.js';
import { mapSync } from '../../src/coordination/map-sync.js';
import { nextEpoch } from '../../src/routing/epoch-numbers.js';
import { initialLiveMap, promotedMap } from '../../src/routing/live-map.js';
import { restartedMap } from '../../src/server/restart-epochs.js';

const A = '127.0.0.1:7001';
const B = '127.0.0.2:7001';
const C = '127.0.0.3:7001';
const config = parseConfigText(
  `[[shards]]\nname = "shard-0"\nidx = 0\nslots = "0-8191"\naddress = "${A}"\nreplicas = ["${B}", "${C}"]\n` +
    `[[shards]]\nname = "shard-1"\nidx = 1\nslots = "8192-16383"\naddress = "${A}"\nreplicas = ["${B}", "${C}"]\n`,
  't.toml',
  {},
  {},
);
const base = initialLiveMap(config.shards);
const KEY = '/distkv/x/map';

describe('syncing the live map with etcd', () => {
  it('adopts a newer map, writes over an older or missing one, and leaves an equal one', () => {
    const next = promotedMap(base, 0, B, 1, 4);
    assert.deepEqual(mapSync(base, next, KEY), { kind: 'adopt', map: next });
    assert.deepEqual(mapSync(next, base, KEY), { kind: 'write', map: next });
    assert.deepEqual(mapSync(next, undefined, KEY), { kind: 'write', map: next });
    assert.deepEqual(mapSync(next, JSON.parse(JSON.stringify(next)) as typeof next, KEY), { kind: 'none' });
  });

  it('writes the merge, a version above both, of a map of its version with other entries', () => {
    const restarted = restartedMap(base, new Map([[1, 10]]));
    const failedOver = promotedMap(base, 0, B, nextEpoch(base.shards[0]!, B), 8);
    assert.equal(restarted.version, failedOver.version);
    for (const [mine, theirs] of [
      [restarted, failedOver],
      [failedOver, restarted],
    ] as const) {
      const step = mapSync(mine, theirs, KEY);
      assert.ok(step.kind === 'write', JSON.stringify(step));
      assert.equal(step.map.version, 3);
      assert.deepEqual(step.map.shards, [failedOver.shards[0], restarted.shards[1]], 'the union');
      assert.match(step.reason ?? '', /has this node's version 2 but other shard entries/);
    }
    // One side extends the other: its map wins, a version above, so the other side adopts it.
    const ahead = promotedMap(promotedMap(base, 0, B, 1, 8), 0, C, 2, 12);
    const behind = { ...promotedMap(base, 0, B, 1, 8), version: ahead.version };
    for (const [mine, theirs] of [
      [ahead, behind],
      [behind, ahead],
    ] as const) {
      const step = mapSync(mine, theirs, KEY);
      assert.ok(step.kind === 'write', JSON.stringify(step));
      assert.deepEqual(step.map, { ...ahead, version: ahead.version + 1 });
    }
    // A failover beats a restart epoch of the same shard.
    const restart0 = restartedMap(base, new Map([[0, 10]]));
    const step = mapSync(restart0, failedOver, KEY);
    assert.ok(step.kind === 'write');
    assert.deepEqual(step.map.shards, failedOver.shards);
  });

  it('reports a conflict the merge rule does not settle (two failovers made apart)', () => {
    const toB = promotedMap(base, 0, B, 1, 8);
    const toC = promotedMap(base, 0, C, 1, 8);
    const step = mapSync(toB, toC, KEY);
    assert.ok(step.kind === 'conflict', JSON.stringify(step));
    assert.match(step.message, new RegExp(`${KEY}.*neither extends the other.*distkv failover`));
  });
});
