/**
 * A long poll answered across its leader's change of epoch (src/replication/pull-answer.ts): the
 * same leader re-elected (a restart epoch, a coordinator's new lease) writes in the new epoch from
 * the seq the map gives it. A pull that began waiting before the change and is answered with
 * records written after it must label them with the new epoch. Labelled with the epochs read when
 * the pull began, the replica logged the leader's own records under the old epoch; its next pull
 * named that epoch above the new one's start and was told it forked: it saved the leader's records
 * to a divergence file (counted as diverged) and rebuilt itself from a snapshot for nothing.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { MemoryLog } from '../../src/storage/memory-log.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { testReplicationHost } from '../helpers/replication-host.js';
import { tempDir } from '../helpers/temp-dir.js';
import { testStoreSpec } from '../helpers/worker-host.js';

const REPLICA = '127.0.0.1:7002';

describe("a pull answered across its leader's new epoch", () => {
  it('labels the records written in the new epoch with it, and says the epoch the leader leads in now', async () => {
    const store = new MemoryStore(Date.now, new MemoryLog());
    const history = [{ epoch: 1, firstSeq: 1 }];
    const spec = { ...testStoreSpec(tempDir(after), 0, 'memory'), epoch: 1, history };
    for (let i = 1; i <= 3; i++) await store.put(Buffer.from(`k${i}`), Buffer.from(`v${i}`));
    const host = testReplicationHost(new Map([[0, { spec, store }]]));
    host.start();
    after(() => host.stop());

    // The replica holds 1..3 and waits for more.
    const pulling = host.pull(0, 3, 1 << 20, 2000, REPLICA, 1);
    await new Promise((r) => setTimeout(r, 20));
    // The leader is re-elected: epoch 2 from seq 4; then it takes a write.
    await host.setRole(0, { ...spec, epoch: 2, history: [...history, { epoch: 2, firstSeq: 4 }] });
    await store.put(Buffer.from('k4'), Buffer.from('v4'));
    const answer = await pulling;
    assert.ok(
      answer.records.length > 0,
      `the pull got no record: ${JSON.stringify({ ...answer, records: answer.records.length })}`,
    );
    assert.equal(answer.recordsEpoch, 2, 'the record written in epoch 2 went out labelled with epoch 1');
    assert.equal(answer.epoch, 2);
  });
});
