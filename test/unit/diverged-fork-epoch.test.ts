/**
 * A divergence file names the epoch that forked: the epoch of the leader that answered the pull
 * 409 DIVERGED, whose leader never had the replica's records above the fork
 * (src/replication/diverged-file.ts). The replica's own map may lag that leader by an epoch (it
 * learns of the new epoch from this very answer). Before, the save took the replica's own map
 * epoch: a replica of epoch 1 told by the leader of epoch 2 that it forked at seq 3 wrote
 * `diverged-1-4-6.log` and logged "the leader of epoch 1 never had" them, and `distkv diverged`
 * said "forked by epoch 1". Every source carries the leader's epoch with the fork: on the same
 * worker (LocalSource), over HTTP (X-Distkv-Epoch of the 409, HttpSource) and through a ring
 * (its fallback's answer, RingSource).
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Positions } from '../../src/replication/positions.js';
import { type HostedStore, ReplicationHost } from '../../src/replication/replication-host.js';
import { ringBytesFor } from '../../src/replication/ring-format.js';
import { RingConsumer } from '../../src/replication/ring.js';
import { RingSource } from '../../src/replication/ring-source.js';
import { ScriptedSource } from '../helpers/scripted-source.js';
import type { StoreSpec } from '../../src/worker/messages.js';
import { FakeLeader } from '../helpers/fake-leader.js';
import { openTestLsm } from '../helpers/lsm.js';
import { dump } from '../helpers/replica-pair.js';
import { localReplicaSpec } from '../helpers/replication-host.js';
import {
  capturedLog,
  FORK_HISTORY,
  forkOnOneWorker,
  type LogLine,
  replicaOfEpoch1,
} from '../helpers/fork-fixture.js';
import { tempDir } from '../helpers/temp-dir.js';

const REPLICA = '127.0.0.1:2';
/** until polls `ok` every 20 ms for at most 10 s. */
async function until(ok: () => boolean, what: () => string): Promise<void> {
  const deadline = Date.now() + 10000;
  while (!ok()) {
    assert.ok(Date.now() < deadline, what());
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** divergedFiles lists the divergence files of the store `replica` in `root`. */
function divergedFiles(root: string): string[] {
  return readdirSync(root).filter((n) => n.startsWith('replica.diverged-'));
}

/** forkWarnings are the warnings of `lines` that say a store's records were saved. */
function forkWarnings(lines: LogLine[]): string[] {
  return lines.filter((l) => l.level >= 40 && / never had: saved to /.test(l.msg)).map((l) => l.msg);
}

describe('a replica told by its leader on the same worker that it forked', () => {
  it('names the divergence file and its warning with the leader epoch that forked, not its own', async () => {
    const root = tempDir(after);
    const { log, lines } = capturedLog();
    const pair = await forkOnOneWorker(root, REPLICA, log);
    try {
      await pair.resynced();
      assert.deepEqual(divergedFiles(root), ['replica.diverged-2-4-6.log']);
      const warned = forkWarnings(lines);
      assert.equal(warned.length, 1, warned.join('\n'));
      assert.match(warned[0]!, /holds 3 records above seq 3 that the leader of epoch 2 never had/);
    } finally {
      await pair.close();
    }
  });
});

/**
 * forkOverHttp runs a replica of epoch 1 (seqs 1..6) against a leader over HTTP that answers its
 * first pull 409 DIVERGED at seq 3 with `headers` (and holds k0001..k0003 for the resync), and
 * returns the divergence files and the warnings about them once the replica resynced.
 */
async function forkOverHttp(headers: Record<string, string>): Promise<{ files: string[]; warned: string[] }> {
  const root = tempDir(after);
  const { log, lines } = capturedLog();
  const leader = await FakeLeader.start(3);
  const local = localReplicaSpec(join(root, 'replica'), 0, REPLICA, 0);
  const spec: StoreSpec = {
    ...local,
    epoch: 1,
    history: [FORK_HISTORY[0]!],
    // Its leader is in another process, over HTTP.
    replication: { ...local.replication!, leaderAddress: leader.address, leaderStore: undefined },
  };
  const hosted: HostedStore = { spec, store: await replicaOfEpoch1(root) };
  const positions = new Positions(new SharedArrayBuffer(Positions.bytesFor(1)));
  const host = new ReplicationHost(new Map([[0, hosted]]), positions, log, (s) => openTestLsm(s.dir));
  leader.pullAnswer = {
    status: 409,
    headers: { 'content-type': 'application/json', 'x-distkv-fork-seq': '3', ...headers },
    body: JSON.stringify({ error: { code: 'DIVERGED', message: 'forked', fork: 3 } }),
  };
  // No snapshot until the fork is answered once: the replica pulls again only after its resync.
  leader.refuseSnapshots = true;
  host.start();
  try {
    await until(
      () => leader.snapshots > 0,
      () => 'the replica did not try to resync',
    );
    leader.pullAnswer = undefined;
    leader.refuseSnapshots = false;
    const want = JSON.stringify(leader.entries().map((e) => [e.key.toString(), e.value.toString()]));
    await until(
      () => {
        try {
          return JSON.stringify(dump(hosted.store)) === want;
        } catch {
          return false; // resyncing: it refuses reads
        }
      },
      () => `the replica did not resync onto its leader: ${JSON.stringify(host.statsOf(0))}`,
    );
    return { files: divergedFiles(root), warned: forkWarnings(lines) };
  } finally {
    await host.stop();
    await hosted.store.close();
    await leader.close();
  }
}

describe('a replica told over HTTP that it forked', () => {
  it('names the divergence file and its warning with the X-Distkv-Epoch of the 409', async () => {
    const { files, warned } = await forkOverHttp({ 'x-distkv-epoch': '2' });
    assert.deepEqual(files, ['replica.diverged-2-4-6.log']);
    assert.equal(warned.length, 1, warned.join('\n'));
    assert.match(warned[0]!, /the leader of epoch 2 never had: saved to .*replica\.diverged-2-4-6\.log/);
  });

  it('names them with its own map epoch, its best guess, when the leader does not say', async () => {
    const { files, warned } = await forkOverHttp({});
    assert.deepEqual(files, ['replica.diverged-1-4-6.log']);
    assert.equal(warned.length, 1, warned.join('\n'));
  });
});

describe('a pull answered 409 DIVERGED', () => {
  it('gives the fork with the leader epoch from X-Distkv-Epoch, and none when it is missing or not an epoch', async () => {
    const leader = await FakeLeader.start(3);
    const source = leader.source(REPLICA);
    const answer = (headers: Record<string, string>): void => {
      leader.pullAnswer = {
        status: 409,
        headers: { 'content-type': 'application/json', 'x-distkv-fork-seq': '3', ...headers },
        body: JSON.stringify({ error: { code: 'DIVERGED', message: 'forked', fork: 3 } }),
      };
    };
    try {
      answer({ 'x-distkv-epoch': '2' });
      assert.deepEqual(await source.pull(6, 1 << 20, 0, { epoch: 1 }), { fork: 3, epoch: 2 });
      answer({});
      assert.deepEqual(await source.pull(6, 1 << 20, 0, { epoch: 1 }), { fork: 3 });
      answer({ 'x-distkv-epoch': 'x' });
      assert.deepEqual(await source.pull(6, 1 << 20, 0, { epoch: 1 }), { fork: 3 });
    } finally {
      await source.close();
      await leader.close();
    }
  });

  it('through a ring keeps the epoch its fallback got', async () => {
    const ring = new RingConsumer(new SharedArrayBuffer(ringBytesFor(4096)));
    const source = new RingSource(ring, new ScriptedSource({ fork: 3, epoch: 2 }), 'ring', () => 6);
    assert.deepEqual(await source.pull(6, 1 << 20, 0, { epoch: 1 }), { fork: 3, epoch: 2 });
  });
});
