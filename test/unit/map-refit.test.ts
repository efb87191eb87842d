/**
 * The map a node starts with when its saved map was made under another config (a shard's members
 * edited): src/routing/map-refit.ts. Before, every node started from the config's map, undoing any
 * failover (test/e2e/config-change-after-failover.test.ts shows what that lost).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { checkSuccessor, initialLiveMap, type LiveMap, promotedMap } from '../../src/routing/live-map.js';
import { refittedMap } from '../../src/routing/map-refit.js';
import type { ShardInfo } from '../../src/routing/shard-map.js';
import { readLiveMap, saveLiveMap } from '../../src/server/live-map-file.js';

const shard = (idx: number, address: string, replicas: string[]): ShardInfo => ({
  idx,
  name: `shard-${idx}`,
  address,
  replicas,
  slots: { first: idx * 8192, last: idx * 8192 + 8191 },
});

const OLD = [shard(0, 'a:1', ['b:1']), shard(1, 'b:1', ['a:1'])];
/** NEW adds c:1 as a replica of both shards. */
const NEW = [shard(0, 'a:1', ['b:1', 'c:1']), shard(1, 'b:1', ['a:1', 'c:1'])];

/** failedOver is OLD's map after shard 0 moved to b:1 in epoch 65 from seq 41, with a floor a merge left. */
function failedOver(): LiveMap {
  const m = promotedMap(initialLiveMap(OLD), 0, 'b:1', 65, 40);
  m.shards[0]!.floor = 130;
  return JSON.parse(JSON.stringify(m)) as LiveMap;
}

describe('map refit (a saved map of another config)', () => {
  it('keeps the leader, epoch, history and floor of a shard past epoch 0 whose leader is still a member', () => {
    const r = refittedMap(failedOver(), NEW);
    assert.deepEqual(r.kept, ['shard-0']);
    assert.deepEqual(r.orphaned, []);
    assert.equal(r.map.version, 2, 'the old version: every node refits the same map alike');
    assert.deepEqual(r.map.shards[0], {
      idx: 0,
      name: 'shard-0',
      leader: 'b:1',
      replicas: ['a:1', 'c:1'],
      epoch: 65,
      history: [{ epoch: 65, firstSeq: 41 }],
      floor: 130,
    });
    assert.deepEqual(r.map.shards[1], initialLiveMap(NEW).shards[1], 'an epoch-0 shard: the config');
    // A member new to the cluster starts at the config's map and adopts this one from its peers.
    checkSuccessor(initialLiveMap(NEW), r.map);
  });

  it("is the config's map (version 1) when no shard is past epoch 0", () => {
    const old = initialLiveMap(OLD);
    old.version = 7;
    assert.deepEqual(refittedMap(old, NEW), { map: initialLiveMap(NEW), kept: [], orphaned: [] });
  });

  it('names a shard whose leader the new config removed, and starts it from the config', () => {
    const without = [shard(0, 'a:1', ['c:1']), shard(1, 'b:1', ['a:1', 'c:1'])];
    const r = refittedMap(failedOver(), without);
    assert.deepEqual(r.orphaned, ['shard-0']);
    assert.deepEqual(r.map, initialLiveMap(without));
  });

  it('keeps nothing of a shard renamed, missing, or whose old entry is not a valid one', () => {
    const renamed = [{ ...NEW[0]!, name: 'other' }, NEW[1]!];
    assert.deepEqual(refittedMap(failedOver(), renamed).map, initialLiveMap(renamed));
    assert.deepEqual(refittedMap({ version: 2, shards: [] }, NEW).map, initialLiveMap(NEW));
    assert.deepEqual(refittedMap(null, NEW).map, initialLiveMap(NEW));
    const bad = failedOver();
    bad.shards[0]!.history = [{ epoch: 70, firstSeq: 41 }]; // does not end with epoch 65
    assert.deepEqual(refittedMap(bad, NEW).map, initialLiveMap(NEW));
  });

  it('keeps the order of the old replicas that stay, the new members after them', () => {
    // a:1 led, then b:1, then c:1: c:1's replicas are [b:1, a:1], not the config's order.
    const three = [shard(0, 'a:1', ['b:1', 'c:1'])];
    const old = promotedMap(promotedMap(initialLiveMap(three), 0, 'b:1', 65, 10), 0, 'c:1', 130, 20);
    assert.deepEqual(old.shards[0]!.replicas, ['b:1', 'a:1']);
    const four = [shard(0, 'a:1', ['b:1', 'c:1', 'd:1'])];
    assert.deepEqual(refittedMap(old, four).map.shards[0]!.replicas, ['b:1', 'a:1', 'd:1']);
    // A shard whose members did not change keeps its entry exactly (another shard's changed).
    const two = [shard(0, 'a:1', ['b:1', 'c:1']), shard(1, 'b:1', ['a:1'])];
    const oldTwo = promotedMap(promotedMap(initialLiveMap(two), 0, 'b:1', 65, 10), 0, 'c:1', 130, 20);
    const edited = [two[0]!, shard(1, 'b:1', ['a:1', 'c:1'])];
    assert.deepEqual(refittedMap(oldTwo, edited).map.shards[0], oldTwo.shards[0]);
  });

  it('saved, reads back as it is, with no refit (the start after the one that refitted says nothing)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'distkv-refit-'));
    try {
      saveLiveMap(dir, failedOver());
      const lines: string[] = [];
      const log = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
      const first = readLiveMap(dir, NEW, log);
      assert.equal(first.refit, true);
      assert.equal(lines.length, 1);
      assert.match(
        lines[0] ?? '',
        /shard-0: the saved map lists the members b:1, a:1, the config a:1, b:1, c:1.*shard-1: the saved map lists the members b:1, a:1, the config b:1, a:1, c:1/,
      );
      saveLiveMap(dir, first.map);
      const second = readLiveMap(dir, NEW, log);
      assert.deepEqual(second, { map: first.map, refit: false });
      assert.equal(lines.length, 1, 'nothing said at the second read');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
