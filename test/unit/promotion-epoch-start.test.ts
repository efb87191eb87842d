/**
 * Writes in flight at a forced or etcd promotion (docs/wal-format.md, "Epoch history"): the map
 * starts the new epoch after the target's ack as the promoter read it, but a target still following
 * its old leader may apply more of that leader's records before it stops to lead. Those records
 * carry the old epoch in its log; the epoch its pulls are checked and labelled with must start after
 * them, or a replica holding the same records is told it diverged (and drops them), and a replica
 * catching up labels them with an epoch their log position does not have.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { lagHeader, replicaLag } from '../../src/replication/lag.js';
import { Positions } from '../../src/replication/positions.js';
import { type HostedStore, ReplicationHost } from '../../src/replication/replication-host.js';
import { decodeRecord } from '../../src/storage/wal-format.js';
import type { StoreSpec } from '../../src/worker/messages.js';
import { logEpochs } from '../helpers/log-epochs.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';
import { inDir, localReplicaSpec, testReplicationHost } from '../helpers/replication-host.js';

const b = (s: string): Buffer => Buffer.from(s);
const REPLICA = '127.0.0.1:2';

/** specOf is the test store spec (test/helpers/worker-host.ts) as a replica in `dir` itself. */
function specOf(dir: string): StoreSpec {
  return inDir(dir, 'replica');
}

function seqsIn(records: Buffer): number[] {
  const out: number[] = [];
  for (let o = 0; o < records.length;) {
    const r = decodeRecord(records, o);
    assert.ok(typeof r !== 'string');
    out.push(r.seq);
    o += r.size;
  }
  return out;
}

describe('a promotion while the target held more than the map says', () => {
  it("starts the new leader's epoch after the old leader's records its log holds", async () => {
    const dir = join(tempDir(after), 'store');
    const store = await openTestLsm(dir);
    // The target held seqs 1..5 of its old leader (epoch 0) when it stopped following; the
    // promoter had read its ack at 3, so the map starts epoch 1 at seq 4.
    for (let i = 1; i <= 5; i++) await store.put(b(`k${i}`), b(`v${i}`));
    const spec = specOf(dir);
    const host = hostOf(spec, store);
    host.start();
    await host.setRole(0, { ...spec, role: 'leader', epoch: 1, history: [{ epoch: 1, firstSeq: 4 }] });

    // A replica that got seqs 4 and 5 from the old leader holds what this leader holds: no fork.
    const same = await host.pull(0, 5, 1 << 20, 0, REPLICA, 0);
    assert.equal(same.fork, undefined, 'a replica with the same records is not diverged');
    // A replica at 3 gets 4 and 5 labelled with the epoch they carry here: the old one.
    const behind = await host.pull(0, 3, 1 << 20, 0, REPLICA, 0);
    assert.deepEqual(seqsIn(behind.records), [4, 5]);
    assert.equal(behind.recordsEpoch, 0);

    // The new leader's own first record is in epoch 1, in its log and in what it sends.
    assert.equal((await store.put(b('own'), b('1'))).seq, 6);
    const own = await host.pull(0, 5, 1 << 20, 0, REPLICA, 0);
    assert.deepEqual(seqsIn(own.records), [6]);
    assert.equal(own.recordsEpoch, 1);
    assert.deepEqual(
      [...(await logEpochs(join(dir, 'log'), dir))].filter(([seq]) => seq >= 4),
      [
        [4, 0],
        [5, 0],
        [6, 1],
      ],
      "the leader's log labels its records as its pulls do",
    );
    // A replica holding a seq 6 of the old leader's diverged from here at 5, not at 3.
    assert.equal((await host.pull(0, 6, 1 << 20, 0, REPLICA, 0)).fork, 5);
    await store.close();
  });

  it('keeps that epoch start across a restart of the new leader', async () => {
    const dir = join(tempDir(after), 'store');
    let store = await openTestLsm(dir);
    for (let i = 1; i <= 5; i++) await store.put(b(`k${i}`), b(`v${i}`));
    const spec = specOf(dir);
    const promoted: StoreSpec = { ...spec, role: 'leader', epoch: 1, history: [{ epoch: 1, firstSeq: 4 }] };
    const host = hostOf(spec, store);
    host.start();
    await host.setRole(0, promoted);
    assert.equal((await store.put(b('own'), b('1'))).seq, 6);
    await host.stop();
    await store.close();

    // The restart: the same store, a new worker, the map's history as the spec carries it.
    store = await openTestLsm(dir);
    const again = hostOf(promoted, store);
    again.start();
    // Without the kept start, the map's came back: this replica, holding seqs 4 and 5 as the
    // leader does, was told it diverged at 3 (its records saved to a divergence file, itself
    // rebuilt), and seqs 4 and 5 went out labelled with epoch 1, which their log frames do not say.
    assert.equal((await again.pull(0, 5, 1 << 20, 0, REPLICA, 0)).fork, undefined);
    const behind = await again.pull(0, 3, 1 << 20, 0, REPLICA, 0);
    assert.deepEqual(seqsIn(behind.records), [4, 5]);
    assert.equal(behind.recordsEpoch, 0);
    const own = await again.pull(0, 5, 1 << 20, 0, REPLICA, 0);
    assert.deepEqual(seqsIn(own.records), [6]);
    assert.equal(own.recordsEpoch, 1);
    assert.equal((await again.pull(0, 6, 1 << 20, 0, REPLICA, 0)).fork, 5);
    await again.stop();
    await store.close();
  });
});

describe('holding a replica for its promotion', () => {
  it('stops it following until released, and answers its last seq', async () => {
    const root = tempDir(after);
    const leader = await openTestLsm(join(root, 'leader'));
    const replica = await openTestLsm(join(root, 'replica'));
    const leaderSpec = inDir(join(root, 'leader'), 'leader');
    const replicaSpec = localReplicaSpec(join(root, 'replica'), 1, REPLICA, 0);
    const host = testReplicationHost(
      new Map<number, HostedStore>([
        [0, { spec: leaderSpec, store: leader }],
        [1, { spec: replicaSpec, store: replica }],
      ]),
    );
    host.start();
    for (let i = 1; i <= 3; i++) await leader.put(b(`k${i}`), b(`v${i}`));
    await until(() => replica.lastSeq() === 3);

    assert.equal(await host.holdFollowing(1, true, 60000), 3);
    for (let i = 4; i <= 5; i++) await leader.put(b(`k${i}`), b(`v${i}`));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(replica.lastSeq(), 3, 'a held replica applies nothing more');

    assert.equal(await host.holdFollowing(1, false, 60000), 3);
    await until(() => replica.lastSeq() === 5);

    // A hold that nobody releases ends by itself.
    assert.equal(await host.holdFollowing(1, true, 100), 5);
    await leader.put(b('k6'), b('v6'));
    await until(() => replica.lastSeq() === 6);

    await assert.rejects(host.holdFollowing(0, true, 100), /not a replica/);
    await host.stop();
    await replica.close();
    await leader.close();
  });

  it('reports its lag as unknown (held) while it is held, and known again once it follows', async () => {
    const root = tempDir(after);
    const leader = await openTestLsm(join(root, 'leader'));
    const replica = await openTestLsm(join(root, 'replica'));
    const replicaSpec = localReplicaSpec(join(root, 'replica'), 1, REPLICA, 0);
    const positions = new Positions(new SharedArrayBuffer(Positions.bytesFor(2)));
    const host = new ReplicationHost(
      new Map<number, HostedStore>([
        [0, { spec: inDir(join(root, 'leader'), 'leader'), store: leader }],
        [1, { spec: replicaSpec, store: replica }],
      ]),
      positions,
      undefined,
      () => Promise.reject(new Error('no store is reopened in this test')),
    );
    const waitMs = replicaSpec.replication!.pullWaitMs;
    const lag = () => replicaLag(positions, 1, undefined, waitMs);
    host.start();
    await leader.put(b('k1'), b('v1'));
    await until(() => lag().known);

    await host.holdFollowing(1, true, 60000);
    // Its last contact was a moment ago: before, it stayed "streaming, 0 behind" for
    // pull_wait_ms + 3 s while the leader took writes it would not copy.
    for (let i = 2; i <= 4; i++) await leader.put(b(`k${i}`), b(`v${i}`));
    const held = lag();
    assert.equal(held.known, false, `a held replica claims a known lag: ${JSON.stringify(held)}`);
    assert.equal(held.state, 'held');
    assert.match(lagHeader(held), /^held; last-contact-ms=/);

    await host.holdFollowing(1, false, 60000);
    await until(() => lag().known && replica.lastSeq() === 4);
    await host.stop();
    await replica.close();
    await leader.close();
  });
});

function hostOf(spec: StoreSpec, store: HostedStore['store']): ReplicationHost {
  return testReplicationHost(new Map<number, HostedStore>([[0, { spec, store }]]));
}

/** until waits for `cond`, polling, for at most 20 s. */
async function until(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 20000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
