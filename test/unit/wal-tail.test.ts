/**
 * WalTail's in-memory part: "records after seq N" over thousands of small batches (found by binary
 * search), trimmed to its byte limit from the front, and 'gone' once a position is neither in memory
 * nor in a segment.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WalTail } from '../../src/storage/wal-tail.js';
import { recordBatch as batch, seqsOf } from '../helpers/record-batch.js';
import { seededRandom, testSeed } from '../helpers/random.js';

/** gone is the older reader of a log that keeps nothing on disk. */
const gone = (): 'gone' => 'gone';

describe('WalTail (memory)', () => {
  it('answers every position over 5000 batches of 1-3 records, in order and without gaps', () => {
    const tail = new WalTail(64 * 1024 * 1024);
    let seq = 0;
    for (let i = 0; i < 5000; i++) {
      const n = 1 + (i % 3);
      tail.written(batch(seq + 1, seq + n), seq + 1, seq + n);
      seq += n;
    }
    for (const after of [0, 1, 2, 777, 5000, seq - 3, seq - 1]) {
      const r = tail.readAfter(after, seq, 200, gone);
      assert.ok(r !== 'gone');
      const seqs = seqsOf(r.records);
      assert.equal(seqs[0], after + 1, `after ${after}`);
      assert.deepEqual(
        seqs,
        Array.from({ length: seqs.length }, (_, i) => after + 1 + i),
      );
      assert.equal(r.lastSeq, seqs[seqs.length - 1]);
    }
    assert.deepEqual(tail.readAfter(seq, seq, 200, gone), { records: Buffer.alloc(0), lastSeq: seq });
  });

  it('keeps only about its byte limit, dropping the oldest batches; older positions are gone', () => {
    const one = batch(4900, 4900).length; // records k1000..k9999 are all this size
    const tail = new WalTail(100 * one);
    for (let seq = 1; seq <= 5000; seq++) tail.written(batch(seq, seq), seq, seq);
    assert.equal(tail.readAfter(10, 5000, 1000, gone), 'gone');
    const r = tail.readAfter(4950, 5000, 1 << 20, gone);
    assert.ok(r !== 'gone');
    assert.deepEqual(
      seqsOf(r.records),
      Array.from({ length: 50 }, (_, i) => 4951 + i),
    );
    const oldest = tail.readAfter(4900, 5000, 1 << 20, gone);
    assert.ok(oldest !== 'gone');
    assert.deepEqual(
      seqsOf(oldest.records),
      Array.from({ length: 100 }, (_, i) => 4901 + i),
    );
    assert.equal(tail.readAfter(4899, 5000, 1 << 20, gone), 'gone');
  });

  it('starts over when a batch does not follow the last one (a rewind)', () => {
    const tail = new WalTail(1 << 20);
    tail.written(batch(1, 5), 1, 5);
    tail.written(batch(3, 4), 3, 4);
    assert.equal(tail.readAfter(0, 4, 1000, gone), 'gone');
    const r = tail.readAfter(2, 4, 1000, gone);
    assert.ok(r !== 'gone');
    assert.deepEqual(seqsOf(r.records), [3, 4]);
  });

  it('serves batches kept as places in the larger buffers that hold them, whatever its arrays went through', () => {
    // As the commit log hands them over: each batch a view of a whole commit log batch, at an offset.
    const seed = testSeed();
    const rnd = seededRandom(seed);
    const one = batch(1000, 1000).length;
    const tail = new WalTail(Math.floor((20 + rnd() * 400) * one));
    let seq = 0;
    for (let i = 0; i < 3000; i++) {
      const n = 1 + Math.floor(rnd() * 4);
      const records = batch(seq + 1000 + 1, seq + 1000 + n);
      const pad = Math.floor(rnd() * 50);
      const holder = Buffer.concat([Buffer.alloc(pad, 0xee), records, Buffer.alloc(7, 0xee)]);
      tail.written(holder.subarray(pad, pad + records.length), seq + 1001, seq + 1000 + n, holder, pad);
      seq += n;
      if (i % 97 !== 0) continue;
      const last = seq + 1000;
      const after = Math.max(1000, last - 1 - Math.floor(rnd() * 15)); // within the 20 records the limit keeps at least
      const r = tail.readAfter(after, last, 1 << 20, gone);
      assert.ok(r !== 'gone', `DISTKV_SEED=${seed} after ${after}`);
      assert.deepEqual(
        seqsOf(r.records),
        Array.from({ length: last - after }, (_, k) => after + 1 + k),
        `DISTKV_SEED=${seed} after ${after}`,
      );
    }
  });
});
