/**
 * The RUNNING marker (src/server/run-marker.ts) tells a start whether the last run of the data
 * directory stopped cleanly, and restartedMap (src/server/restart-epochs.ts) is the live map a
 * lossy one makes the node adopt: each led shard in a new epoch after its recovered last seq.
 * Leaders that restart without seeing each other (a whole cluster's power cut, no coordinator)
 * make such maps at one version: mergedMap (src/routing/map-merge.ts) makes them converge.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EPOCH_STRIDE, nextEpoch } from '../../src/routing/epoch-numbers.js';
import {
  checkSuccessor,
  forkSeq,
  initialLiveMap,
  type LiveMap,
  promotedMap,
} from '../../src/routing/live-map.js';
import { mergedMap } from '../../src/routing/map-merge.js';
import { restartedMap } from '../../src/server/restart-epochs.js';
import { RUNNING_FILE, RunMarker } from '../../src/server/run-marker.js';
import { logLines } from '../helpers/log-lines.js';
import { tempDir } from '../helpers/temp-dir.js';

const { log } = logLines();

describe('the RUNNING marker', () => {
  it('finds no unclean run in a new directory, nor after a clean close', () => {
    const dir = tempDir(after);
    const first = RunMarker.open(dir, 'interval');
    assert.equal(first.lastRun, undefined);
    assert.equal(first.lossy, false);
    assert.ok(existsSync(join(dir, RUNNING_FILE)), 'marked while running');
    first.close(log);
    assert.equal(existsSync(join(dir, RUNNING_FILE)), false, 'removed at a clean close');
    const second = RunMarker.open(dir, 'interval');
    assert.equal(second.lastRun, undefined);
    second.close(log);
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
    third.close(log);
    assert.equal(RunMarker.open(dir, 'fsync').lossy, false);
  });

  it('logs a marker it cannot remove, its data directory gone, as one error and does not throw', () => {
    const dir = join(tempDir(after), 'data');
    mkdirSync(dir);
    const marker = RunMarker.open(dir, 'fsync');
    rmSync(dir, { recursive: true });
    const seen = logLines();
    marker.close(seen.log);
    assert.deepEqual(
      seen.lines.map((l) => [l.level, l.msg]),
      [
        [
          50,
          `the data directory ${dir} is gone (removed while the node ran): nothing of this run is left in it`,
        ],
      ],
    );
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
      [
        base.shards[0]!.leader,
        base.shards[0]!.replicas,
        EPOCH_STRIDE,
        [{ epoch: EPOCH_STRIDE, firstSeq: 42, restart: true }],
      ],
    );
    assert.deepEqual(s1, base.shards[1]);
    // The new epochs name their leader: 127.0.0.1 is its shard's first member in address order.
    assert.deepEqual(s2!.history, [{ epoch: EPOCH_STRIDE, firstSeq: 1, restart: true }]);
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
    const ac = mergedMap(a, c)?.map;
    const ca = mergedMap(c, a)?.map;
    assert.ok(ac !== undefined && ca !== undefined);
    assert.deepEqual(ac, ca);
    assert.equal(ac.version, 3);
    assert.deepEqual(
      ac.shards.map((s) => [s.epoch, s.history]),
      [
        [EPOCH_STRIDE, [{ epoch: EPOCH_STRIDE, firstSeq: 11, restart: true }]],
        [EPOCH_STRIDE, [{ epoch: EPOCH_STRIDE, firstSeq: 21, restart: true }]],
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
    const merged = mergedMap(later, a)?.map;
    assert.equal(merged?.version, 8);
    assert.equal(merged.shards[0]!.epoch, EPOCH_STRIDE);
  });

  it('lets a failover beat a restart of the old leader made without seeing it, from either side', () => {
    // The failover promoted the replica at 8; the old leader recovered 10 records, then restarted alone.
    const toReplica = (m: LiveMap, last: number) =>
      promotedMap(m, 0, shards[0]!.replicas[0]!, nextEpoch(m.shards[0]!, shards[0]!.replicas[0]!), last);
    const failedOver = toReplica(base, 8);
    const atRestarted = mergedMap(a, failedOver);
    assert.ok(atRestarted !== undefined, 'the restarted leader takes the failover');
    assert.deepEqual(atRestarted.map.shards, failedOver.shards);
    assert.equal(atRestarted.map.version, 3);
    // Its stores of shard 0 hold the restart's line above the lower of both starts.
    assert.deepEqual([...atRestarted.forks], [[0, 8]]);
    checkSuccessor(a, atRestarted.map, atRestarted.forks);
    assert.throws(() => {
      checkSuccessor(a, atRestarted.map);
    });
    // The failover's side gains nothing (no error either: the other side merges), then takes version 3.
    assert.equal(mergedMap(failedOver, a), undefined);
    checkSuccessor(failedOver, atRestarted.map);
    // A restart that recovered less than the promoted replica held forks below its own start.
    const lowRestart = restartedMap(base, new Map([[0, 3]]));
    assert.deepEqual([...(mergedMap(lowRestart, failedOver)?.forks ?? [])], [[0, 3]]);
    // Both started from seq 9 (the replica held all the leader recovered): not one entry.
    const sameStart = restartedMap(base, new Map([[0, 8]]));
    assert.deepEqual([...(mergedMap(sameStart, failedOver)?.forks ?? [])], [[0, 8]]);
    assert.equal(mergedMap(failedOver, sameStart), undefined);
  });

  it('merges nothing when both sides changed a shard with failovers', () => {
    const replica = shards[0]!.replicas[0]!;
    const toB = promotedMap(base, 0, replica, nextEpoch(base.shards[0]!, replica), 8);
    const bRestarted = restartedMap(toB, new Map([[0, 12]]));
    const failedBack = promotedMap(a, 0, replica, nextEpoch(a.shards[0]!, replica), 11);
    assert.equal(mergedMap(bRestarted, failedBack), undefined);
    assert.equal(mergedMap(failedBack, bRestarted), undefined);
  });
});
