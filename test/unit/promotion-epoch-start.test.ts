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
import { Positions } from '../../src/replication/positions.js';
import { type HostedStore, ReplicationHost } from '../../src/replication/replication-host.js';
import { decodeRecord } from '../../src/storage/wal-format.js';
import type { StoreSpec } from '../../src/worker/messages.js';
import { logEpochs } from '../helpers/log-epochs.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);
const REPLICA = '127.0.0.1:2';

function specOf(dir: string): StoreSpec {
  return {
    index: 0,
    shard: { idx: 0, name: 'shard-0', first: 0, last: 16383 },
    role: 'replica',
    node: '127.0.0.1:1',
    dir,
    engine: 'lsm',
    durability: 'fsync',
    fsyncIntervalMs: 100,
    lsm: {
      memtableBytes: 1 << 20,
      maxRuns: 4,
      walSegmentBytes: 1 << 20,
      walRetentionBytes: 1 << 20,
      ringBytes: 1 << 20,
    },
    repair: false,
  };
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
    const host = new ReplicationHost(
      new Map<number, HostedStore>([[0, { spec, store }]]),
      new Positions(new SharedArrayBuffer(Positions.bytesFor(1))),
      undefined,
      () => Promise.reject(new Error('no store is reopened in this test')),
    );
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
});
