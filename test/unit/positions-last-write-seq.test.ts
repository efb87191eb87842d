/**
 * A leader's last write seq (SLOT_LAST_WRITE_SEQ, `last_write_seq` in /cluster): its last seq that
 * is not an expire record it logged itself as a TTL ran out. `distkv backup` compares it to tell a
 * shard written to during a copy from one whose keys only expired. Every other write moves it:
 * client writes, the worker's own deletes (purge), and any set of the last seq (a store opened,
 * a replica's progress, a rebuild).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Positions, SLOT_LAST_SEQ, SLOT_LAST_WRITE_SEQ } from '../../src/replication/positions.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { ReplyBatch } from '../../src/worker/reply-batch.js';
import { StoreWrites } from '../../src/worker/store-writes.js';
import { ST_DONE } from '../../src/worker/op-format.js';
import { tempDir } from '../helpers/temp-dir.js';
import { testStoreSpec } from '../helpers/worker-host.js';

const b = (s: string): Buffer => Buffer.from(s);

async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(what);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('the last write seq of a leader', () => {
  it('stays put when the reaper logs an expire record, and moves with every other write', async () => {
    const store = new MemoryStore();
    const positions = new Positions(new SharedArrayBuffer(Positions.bytesFor(1)));
    const writes = new StoreWrites(
      new Map([[0, { spec: testStoreSpec(tempDir(after), 0, 'memory'), store }]]),
      positions,
      new ReplyBatch(() => undefined),
      () => {
        throw new Error('no replication here');
      },
    );
    after(() => {
      writes.close();
    });
    const seqs = (): [number, number] => [
      positions.get(0, SLOT_LAST_SEQ),
      positions.get(0, SLOT_LAST_WRITE_SEQ),
    ];
    writes.write(1, 0, store, b('short'), b('v'), 0, 0, undefined, ST_DONE, Date.now() + 30);
    // The expire record may land before this looks (a loaded machine lets 30 ms pass): the put's
    // seq is the last write seq either way. Waiting for exactly seq 1 timed out when it had.
    await until('the put is durable', () => seqs()[0] >= 1);
    assert.equal(seqs()[1], 1);
    await until('the expire record is durable', () => seqs()[0] === 2);
    assert.equal(store.read(b('short'), 0), undefined);
    assert.deepEqual(seqs(), [2, 1], 'the expire record moved the last seq only');
    writes.write(2, 0, store, b('k'), b('v'), 0, 0, undefined);
    await until('the client put is durable', () => seqs()[0] === 3);
    assert.deepEqual(seqs(), [3, 3]);
    await writes.ownWrite(0, store, b('k'), null);
    await until('the own delete is published', () => seqs()[0] === 4);
    assert.deepEqual(seqs(), [4, 4], "the worker's own delete (purge) is a write");
    positions.set(0, SLOT_LAST_SEQ, 2);
    assert.deepEqual(seqs(), [2, 2], 'a set of the last seq sets the last write seq');
  });
});
