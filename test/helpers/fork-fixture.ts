/**
 * A replica and its leader on one worker whose histories fork at seq 3, for the tests of what a
 * fork leaves behind (a divergence file, its warning): the leader holds k1..k3 of epoch 1 and
 * k4..k5 of epoch 2 (`new4`, `new5`), which starts at seq 4; the replica's map knows epoch 1 only,
 * and it holds k1..k6 of epoch 1 (`lost4`..`lost6` above seq 3). Its first pull is answered
 * DIVERGED at 3: it saves seqs 4..6 and resyncs from the leader's snapshot.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type Logger, pino } from 'pino';
import { Positions } from '../../src/replication/positions.js';
import { type HostedStore, ReplicationHost } from '../../src/replication/replication-host.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import type { StoreSpec } from '../../src/worker/messages.js';
import { openTestLsm } from './lsm.js';
import { dump } from './replica-pair.js';
import { inDir, localReplicaSpec } from './replication-host.js';

const b = (s: string): Buffer => Buffer.from(s);

/** FORK_HISTORY: the leader leads epoch 2 from seq 4 on; the replica's map knows epoch 1 only. */
export const FORK_HISTORY = [
  { epoch: 1, firstSeq: 1 },
  { epoch: 2, firstSeq: 4 },
];

/** LogLine is one line of a captured log. */
export interface LogLine {
  level: number;
  msg: string;
  fork?: number;
}

/** capturedLog is a logger at info whose lines are kept in `lines`. */
export function capturedLog(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as LogLine) });
  return { log, lines };
}

/** replicaOfEpoch1 opens store `replica` under `root` holding seqs 1..6 of epoch 1 (`lost4..6` above seq 3). */
export async function replicaOfEpoch1(root: string): Promise<LsmStore> {
  const replica = await openTestLsm(join(root, 'replica'));
  replica.replication.epoch = 1;
  for (let i = 1; i <= 6; i++) await replica.put(b(`k${i}`), b(i <= 3 ? `v${i}` : `lost${i}`));
  return replica;
}

/** OneWorkerFork is the running pair: the replica is store 1 of `host`, the leader store 0. */
export interface OneWorkerFork {
  host: ReplicationHost;
  hosted: Map<number, HostedStore>;
  leader: LsmStore;
  /** resynced waits (10 s at most) until the replica serves what the leader holds. */
  resynced(): Promise<void>;
  /** close stops the host and closes both stores. */
  close(): Promise<void>;
}

/** forkOnOneWorker starts the pair above under `root`, the replica named `replica`, logging to `log`. */
export async function forkOnOneWorker(root: string, replica: string, log: Logger): Promise<OneWorkerFork> {
  const leaderSpec: StoreSpec = { ...inDir(join(root, 'leader'), 'leader'), epoch: 2, history: FORK_HISTORY };
  const replicaSpec: StoreSpec = {
    ...localReplicaSpec(join(root, 'replica'), 1, replica, 0),
    epoch: 1,
    history: [FORK_HISTORY[0]!],
  };
  const leader = await openTestLsm(leaderSpec.dir);
  leader.replication.epoch = 1;
  for (let i = 1; i <= 3; i++) await leader.put(b(`k${i}`), b(`v${i}`));
  leader.replication.epoch = 2;
  for (let i = 4; i <= 5; i++) await leader.put(b(`k${i}`), b(`new${i}`));
  const hosted = new Map<number, HostedStore>([
    [0, { spec: leaderSpec, store: leader }],
    [1, { spec: replicaSpec, store: await replicaOfEpoch1(root) }],
  ]);
  const positions = new Positions(new SharedArrayBuffer(Positions.bytesFor(2)));
  const host = new ReplicationHost(hosted, positions, log, (spec) => openTestLsm(spec.dir));
  host.start();
  const serves = (): boolean => {
    try {
      return JSON.stringify(dump(hosted.get(1)!.store)) === JSON.stringify(dump(leader));
    } catch {
      return false; // resyncing: it refuses reads
    }
  };
  return {
    host,
    hosted,
    leader,
    async resynced() {
      const deadline = Date.now() + 10000;
      while (!serves()) {
        assert.ok(
          Date.now() < deadline,
          `the replica did not resync onto its leader: ${JSON.stringify(host.statsOf(1))}`,
        );
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      await host.stop();
      await hosted.get(1)!.store.close();
      await leader.close();
    },
  };
}
