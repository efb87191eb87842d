/**
 * A replica told by its leader that it forked (409 DIVERGED) saves its records above the fork to a
 * divergence file, then resyncs. That is one event, and the node's log says it once, in the words
 * that name the file and the record count (saveFork, src/replication/diverged-file.ts). Before, the
 * follower also warned "the leader's history left this replica's at seq N (409 DIVERGED)" just
 * ahead of it, so every fork appeared twice among the warnings.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { Positions } from '../../src/replication/positions.js';
import { type HostedStore, ReplicationHost } from '../../src/replication/replication-host.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import type { StoreSpec } from '../../src/worker/messages.js';
import { openTestLsm } from '../helpers/lsm.js';
import { dump } from '../helpers/replica-pair.js';
import { inDir, localReplicaSpec } from '../helpers/replication-host.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);
const HISTORY = [
  { epoch: 1, firstSeq: 1 },
  { epoch: 2, firstSeq: 4 },
];

interface LogLine {
  level: number;
  msg: string;
  fork?: number;
}

/** sameAs says whether `replica` serves what `leader` holds (false while it resyncs and refuses reads). */
function sameAs(replica: Pick<LsmStore, 'scan'>, leader: Pick<LsmStore, 'scan'>): boolean {
  try {
    return JSON.stringify(dump(replica)) === JSON.stringify(dump(leader));
  } catch {
    return false;
  }
}

describe('a replica that forked', () => {
  it('logs the fork once, naming the divergence file and the record count', async () => {
    const root = tempDir(after);
    const lines: LogLine[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as LogLine) });
    // Store 0 leads epoch 2 from seq 4 on; store 1 holds 1..3 of epoch 1 and 4..6 of epoch 1 that
    // no leader of epoch 2 had: its first pull is answered DIVERGED with the fork at 3.
    const leaderSpec: StoreSpec = { ...inDir(join(root, 'leader'), 'leader'), epoch: 2, history: HISTORY };
    const replicaSpec: StoreSpec = {
      ...localReplicaSpec(join(root, 'replica'), 1, '127.0.0.1:2', 0),
      epoch: 1,
      history: [HISTORY[0]!],
    };
    const leader = await openTestLsm(leaderSpec.dir);
    leader.replication.epoch = 1;
    for (let i = 1; i <= 3; i++) await leader.put(b(`k${i}`), b(`v${i}`));
    leader.replication.epoch = 2;
    for (let i = 4; i <= 5; i++) await leader.put(b(`k${i}`), b(`new${i}`));
    const replica = await openTestLsm(replicaSpec.dir);
    replica.replication.epoch = 1;
    for (let i = 1; i <= 6; i++) await replica.put(b(`k${i}`), b(i <= 3 ? `v${i}` : `lost${i}`));
    const hosted = new Map<number, HostedStore>([
      [0, { spec: leaderSpec, store: leader }],
      [1, { spec: replicaSpec, store: replica }],
    ]);
    const positions = new Positions(new SharedArrayBuffer(Positions.bytesFor(2)));
    const host = new ReplicationHost(hosted, positions, log, (spec) => openTestLsm(spec.dir));
    host.start();
    try {
      const deadline = Date.now() + 10000;
      while (!sameAs(hosted.get(1)!.store, leader)) {
        assert.ok(Date.now() < deadline, 'the replica did not resync onto its leader');
        await new Promise((r) => setTimeout(r, 20));
      }
      const warned = lines.filter((l) => l.level >= 40);
      const aboutFork = warned.filter((l) => l.fork === 3 || /DIVERGED|above seq 3/.test(l.msg));
      assert.equal(
        aboutFork.length,
        1,
        `the fork was logged ${aboutFork.length} times:\n${aboutFork.map((l) => l.msg).join('\n')}`,
      );
      assert.match(aboutFork[0]!.msg, /holds 3 records above seq 3 .*: saved to .*\.diverged-\d+-4-6\.log/);
    } finally {
      await host.stop();
      await hosted.get(1)!.store.close();
      await leader.close();
    }
  });
});
