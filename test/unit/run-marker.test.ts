/**
 * The RUNNING marker (src/server/run-marker.ts) tells a start whether the last run of the data
 * directory stopped cleanly, and restartedMap (src/server/restart-epochs.ts) is the live map a
 * lossy one makes the node adopt: each led shard in a new epoch after its recovered last seq.
 * Leaders that restart without seeing each other (a whole cluster's power cut, no coordinator)
 * make such maps at one version: mergedMap (src/routing/live-map.ts) makes them converge.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  checkSuccessor,
  forkSeq,
  initialLiveMap,
  mergedMap,
  promotedMap,
} from '../../src/routing/live-map.js';
import { restartedMap } from '../../src/server/restart-epochs.js';
import { RUNNING_FILE, RunMarker } from '../../src/server/run-marker.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('the RUNNING marker', () => {
  it('finds no unclean run in a new directory, nor after a clean close', () => {
    const dir = tempDir(after);
    const first = RunMarker.open(dir, 'interval');
    assert.equal(first.lastRun, undefined);
    assert.equal(first.lossy, false);
    assert.ok(existsSync(join(dir, RUNNING_FILE)), 'marked while running');
    first.close();
    assert.equal(existsSync(join(dir, RUNNING_FILE)), false, 'removed at a clean close');
    const second = RunMarker.open(dir, 'interval');
    assert.equal(second.lastRun, undefined);
    second.close();
  });

  it('calls a run that was never closed lossy in interval or none mode, not in fsync mode', () => {
    for (const [mode, lossy] of [
      ['interval', true],
      ['none', true],
      ['fsync', false],
    ] as const) {
      const dir = tempDir(after);
      RunMarker.open(dir, mode); // killed: never closed
      const next = RunMarker.open(dir, 'fsync');
      assert.equal(next.lastRun?.pid, process.pid, mode);
      assert.equal(next.lastRun.durability, mode);
      assert.equal(next.lossy, lossy, mode);
    }
  });

  it('keeps a lossy run named until a clean close, so a crash before the new epochs owes them again', () => {
    const dir = tempDir(after);
    RunMarker.open(dir, 'interval'); // killed
    RunMarker.open(dir, 'fsync'); // started in fsync mode, killed before its epochs were started
    const third = RunMarker.open(dir, 'fsync');
    assert.equal(third.lossy, true);
    third.close();
    assert.equal(RunMarker.open(dir, 'fsync').lossy, false);
  });

  it('takes an unreadable marker as a lossy run', () => {
    const dir = tempDir(after);
    writeFileSync(join(dir, RUNNING_FILE), '{"pid":');
    assert.equal(RunMarker.open(dir, 'fsync').lossy, true);
  });
});

describe('restartedMap', () => {
  const shards = [0, 1, 2].map((idx) => ({
    idx,
    name: `shard-${idx}`,
    slots: { first: idx * 100, last: idx * 100 + 99 },
    address: `127.0.0.1:${8000 + idx}`,
    replicas: [`127.0.0.2:${8000 + idx}`],
  }));

  it('raises the epoch of each restarted shard from its last seq + 1, leader unchanged, in one valid successor', () => {
    const base = initialLiveMap(shards);
    const next = restartedMap(
      base,
      new Map([
        [0, 41],
        [2, 0],
      ]),
    );
    checkSuccessor(base, next);
    assert.equal(next.version, base.version + 1);
    const [s0, s1, s2] = next.shards;
    assert.deepEqual(
      [s0!.leader, s0!.replicas, s0!.epoch, s0!.history],
      [base.shards[0]!.leader, base.shards[0]!.replicas, 1, [{ epoch: 1, firstSeq: 42 }]],
    );
    assert.deepEqual(s1, base.shards[1]);
    assert.deepEqual(s2!.history, [{ epoch: 1, firstSeq: 1 }]);
    // A replica that last knew epoch 0 is cut back to what the leader recovered.
    assert.equal(forkSeq(s0!, 0), 41);
  });
});

describe('mergedMap', () => {
  const shards = [0, 1].map((idx) => ({
    idx,
    name: `shard-${idx}`,
    slots: { first: idx * 100, last: idx * 100 + 99 },
    address: `127.0.0.1:${8000 + idx}`,
    replicas: [`127.0.0.2:${8000 + idx}`],
  }));
  const base = initialLiveMap(shards);
  const a = restartedMap(base, new Map([[0, 10]]));
  const c = restartedMap(base, new Map([[1, 20]]));

  it('merges two restarts of other shards at one version into the same union from either side', () => {
    const ac = mergedMap(a, c);
    const ca = mergedMap(c, a);
    assert.ok(ac !== undefined && ca !== undefined);
    assert.deepEqual(ac, ca);
    assert.equal(ac.version, 3);
    assert.deepEqual(
      ac.shards.map((s) => [s.epoch, s.history]),
      [
        [1, [{ epoch: 1, firstSeq: 11 }]],
        [1, [{ epoch: 1, firstSeq: 21 }]],
      ],
    );
    checkSuccessor(a, ac);
    checkSuccessor(c, ac);
    // Merged once, a map holds everything the other has: nothing more to merge.
    assert.equal(mergedMap(ac, a), undefined);
    assert.equal(mergedMap(a, base), undefined);
  });

  it('takes an older map that extends a shard, above both versions', () => {
    const later = { ...c, version: 7 };
    const merged = mergedMap(later, a);
    assert.equal(merged?.version, 8);
    assert.equal(merged.shards[0]!.epoch, 1);
  });

  it('merges nothing when both changed one shard (a failover against a restart)', () => {
    const failedOver = promotedMap(base, 0, shards[0]!.replicas[0]!, 1, 8);
    assert.equal(mergedMap(a, failedOver), undefined);
    assert.equal(mergedMap(failedOver, a), undefined);
  });
});
