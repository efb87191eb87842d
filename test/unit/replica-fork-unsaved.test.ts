/**
 * A store forked below records its log no longer holds (compacted or flushed away: `readLog`
 * answers 'gone') saves what it still holds of them, its live keys last written above the fork
 * with their values (src/replication/diverged-scan.ts), to `….keys-<count>.log`, then resyncs and
 * follows its leader, by a map's fork (ReplicationHost.setRole) as by its pull's 409 DIVERGED.
 * Before, the save threw CORRUPTION and the store was kept as it was, its follower capped at the
 * fork and `disconnected` for good: with forks at 0 for a foreign history (docs/wal-format.md,
 * "History ids") that was every store of real size. Only a save that cannot write its file (an
 * I/O error) keeps the store as it is now, and that does not fail the role change.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readDivergedBytes, recordJson, summaryLine } from '../../src/cli/diverged-read.js';
import { SLOT_LAST_SEQ } from '../../src/replication/positions.js';
import type { HostedStore, ReplicationHost } from '../../src/replication/replication-host.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import type { StoreSpec } from '../../src/worker/messages.js';
import { openTestLsm } from '../helpers/lsm.js';
import { dump } from '../helpers/replica-pair.js';
import { inDir, localReplicaSpec, testReplicationHost } from '../helpers/replication-host.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);
const HISTORY = [
  { epoch: 1, firstSeq: 1 },
  { epoch: 2, firstSeq: 4 },
];
const EXPIRES = Date.now() + 3_600_000;

/** FORKED are the forked store's keys above seq 3 as a `distkv diverged --json` reader sees them. */
const FORKED = [
  { seq: 6, type: 'put', key: 'k4', value: 'lost4-again' },
  { seq: 5, type: 'put', key: 'k5', value: 'lost5' },
  { seq: 8, type: 'put-ttl', key: 'k6', value: 'lost6', expires_at_ms: EXPIRES },
  { seq: 11, type: 'put', key: 'k1', value: 'lost1' },
];

/**
 * forkedStore opens a store in `dir` that wrote in epoch 1: k1..k3 at seqs 1..3 (below the fork,
 * which the leader of epoch 2 holds too), then above it k4 twice, k5, k2 deleted, k6 with an
 * expiry, k7 written and deleted, k1 overwritten (seqs 4..11): its log then "loses" them.
 */
async function forkedStore(dir: string): Promise<LsmStore> {
  const s = await openTestLsm(dir);
  s.replication.epoch = 1;
  for (let i = 1; i <= 3; i++) await s.put(b(`k${i}`), b(`v${i}`));
  await s.put(b('k4'), b('lost4')); // 4
  await s.put(b('k5'), b('lost5')); // 5
  await s.put(b('k4'), b('lost4-again')); // 6
  await s.delete(b('k2')); // 7
  await s.put(b('k6'), b('lost6'), EXPIRES); // 8
  await s.put(b('k7'), b('lost7')); // 9
  await s.delete(b('k7')); // 10
  await s.put(b('k1'), b('lost1')); // 11
  s.replication.readLog = () => 'gone';
  return s;
}

/** newLeader opens the leader of epoch 2 in `dir`: k1..k3 of epoch 1, then `new4`, `new5` from seq 4. */
async function newLeader(dir: string): Promise<LsmStore> {
  const leader = await openTestLsm(dir);
  leader.replication.epoch = 1;
  for (let i = 1; i <= 3; i++) await leader.put(b(`k${i}`), b(`v${i}`));
  leader.replication.epoch = 2;
  for (let i = 4; i <= 5; i++) await leader.put(b(`k${i}`), b(`new${i}`));
  return leader;
}

/** until polls `ok` every 20 ms for at most 10 s. */
async function until(ok: () => boolean, what: () => string): Promise<void> {
  const deadline = Date.now() + 10000;
  while (!ok()) {
    assert.ok(Date.now() < deadline, what());
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** serves says `store` answers reads with exactly what `leader` holds. */
function serves(store: HostedStore['store'], leader: LsmStore): boolean {
  try {
    return JSON.stringify(dump(store)) === JSON.stringify(dump(leader));
  } catch {
    return false; // resyncing: it refuses reads
  }
}

/** checkSaved checks the one divergence file of store `old` under `root`: exactly FORKED, counted in /stats. */
function checkSaved(root: string, host: ReplicationHost, index: number): void {
  const files = readdirSync(root).filter((n) => n.startsWith('old.diverged-'));
  assert.deepEqual(files, ['old.diverged-2-4-11.keys-4.log']);
  const file = join(root, files[0]!);
  const read = readDivergedBytes(readFileSync(file));
  assert.equal(read.damage, undefined);
  assert.deepEqual(
    read.records.map((r) => recordJson(r)),
    [...FORKED].sort((x, y) => x.seq - y.seq),
  );
  assert.match(summaryLine(file, read), /4 records, .*what it deleted there is not in this file/);
  assert.equal(host.statsOf(index).divergedRecords, 4);
  assert.equal(host.statsOf(index).divergedFiles, 1);
}

describe('a demoted store forked below records its log no longer holds', () => {
  it('saves its keys changed above the fork, then resyncs and follows the new leader', async () => {
    const root = tempDir(after);
    const leaderSpec: StoreSpec = { ...inDir(join(root, 'new'), 'leader'), epoch: 2, history: HISTORY };
    const oldSpec: StoreSpec = {
      ...inDir(join(root, 'old'), 'leader'),
      index: 1,
      epoch: 1,
      history: [HISTORY[0]!],
    };
    const leader = await newLeader(leaderSpec.dir);
    const old = await forkedStore(oldSpec.dir);
    const hosted = new Map<number, HostedStore>([
      [0, { spec: leaderSpec, store: leader }],
      [1, { spec: oldSpec, store: old }],
    ]);
    const host = testReplicationHost(hosted, (spec) => openTestLsm(spec.dir));
    host.start();
    try {
      const replicaSpec: StoreSpec = {
        ...localReplicaSpec(oldSpec.dir, 1, '127.0.0.1:2', 0),
        epoch: 2,
        history: HISTORY,
      };
      await host.setRole(1, replicaSpec, { seq: 3, epoch: 2 });
      checkSaved(root, host, 1);
      await until(
        () => serves(hosted.get(1)!.store, leader) && host.statsOf(1).replicaState === 'streaming',
        () => `the store does not follow its new leader: ${JSON.stringify(host.statsOf(1))}`,
      );
      assert.equal(host['positions'].get(1, SLOT_LAST_SEQ), 5);
    } finally {
      await host.stop();
      await hosted.get(1)!.store.close();
      await leader.close();
    }
  });

  it('is kept as it is when even its keys cannot be saved (an I/O error), and the role change succeeds', async () => {
    const root = tempDir(after);
    const leaderSpec: StoreSpec = { ...inDir(join(root, 'new'), 'leader'), epoch: 2, history: HISTORY };
    const oldSpec: StoreSpec = {
      ...inDir(join(root, 'old'), 'leader'),
      index: 1,
      epoch: 1,
      history: [HISTORY[0]!],
    };
    const leader = await newLeader(leaderSpec.dir);
    const old = await forkedStore(oldSpec.dir);
    old.replication.scan = () => {
      throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
    };
    const hosted = new Map<number, HostedStore>([
      [0, { spec: leaderSpec, store: leader }],
      [1, { spec: oldSpec, store: old }],
    ]);
    const host = testReplicationHost(hosted, (spec) => openTestLsm(spec.dir));
    host.start();
    const before = JSON.stringify(dump(old));
    try {
      const replicaSpec: StoreSpec = {
        ...localReplicaSpec(oldSpec.dir, 1, '127.0.0.1:2', 0),
        epoch: 2,
        history: HISTORY,
      };
      await host.setRole(1, replicaSpec, { seq: 3, epoch: 2 });
      let stats = host.statsOf(1);
      await until(
        () => typeof (stats = host.statsOf(1)).lastError === 'string',
        () => `no error reported: ${JSON.stringify(stats)}`,
      );
      assert.match(stats.lastError as string, /EIO/);
      assert.equal(stats.replicaState, 'disk-failed'); // its own disk's failure (lag.ts), not a lost leader
      assert.equal(hosted.get(1)!.store, old, 'the store was rebuilt over records nobody saved');
      assert.equal(JSON.stringify(dump(old)), before);
      assert.deepEqual(
        readdirSync(root).filter((n) => n.startsWith('old.diverged-')),
        [],
        'a save that failed left a file behind',
      );
      assert.ok(
        host['positions'].get(1, SLOT_LAST_SEQ) <= 3,
        `it acked ${host['positions'].get(1, SLOT_LAST_SEQ)}, above the fork`,
      );
    } finally {
      await host.stop();
      await hosted.get(1)!.store.close();
      await leader.close();
    }
  });
});

describe('a replica told by its pull that it forked below records its log no longer holds', () => {
  it('saves its keys changed above the fork, then resyncs and follows (409 DIVERGED)', async () => {
    const root = tempDir(after);
    const leaderSpec: StoreSpec = { ...inDir(join(root, 'new'), 'leader'), epoch: 2, history: HISTORY };
    // Its own map knows epoch 1 only: the leader on its worker answers its first pull DIVERGED at 3.
    const replicaSpec: StoreSpec = {
      ...localReplicaSpec(join(root, 'old'), 1, '127.0.0.1:2', 0),
      epoch: 1,
      history: [HISTORY[0]!],
    };
    const leader = await newLeader(leaderSpec.dir);
    const hosted = new Map<number, HostedStore>([
      [0, { spec: leaderSpec, store: leader }],
      [1, { spec: replicaSpec, store: await forkedStore(replicaSpec.dir) }],
    ]);
    const host = testReplicationHost(hosted, (spec) => openTestLsm(spec.dir));
    host.start();
    try {
      await until(
        () => serves(hosted.get(1)!.store, leader) && host.statsOf(1).replicaState === 'streaming',
        () => `the replica does not follow its leader: ${JSON.stringify(host.statsOf(1))}`,
      );
      checkSaved(root, host, 1);
    } finally {
      await host.stop();
      await hosted.get(1)!.store.close();
      await leader.close();
    }
  });
});
