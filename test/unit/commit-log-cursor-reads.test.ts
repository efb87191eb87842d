/**
 * What a read of a store's older records out of the commit log's segments reads
 * (src/storage/commit-log-cursor.ts). A record ladder (src/replication/record-ladder.ts) asks the
 * leader's log for one record at each of its seqs, and each such read read a whole 1 MiB window of
 * the segment and checked the checksum of every record of the store from the index point on: about
 * 1 ms a seq (docs/performance.md, "Session 68"). A small read reads what it answers, from the index
 * point before it, and still reports a damaged record it answers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StoreCursor } from '../../src/storage/commit-log-cursor.js';
import { INDEX_EVERY_BYTES } from '../../src/storage/commit-log-index.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import type { ReadableFile } from '../../src/storage/vfs.js';
import { openTestLog, segmentFiles, STORE, type TestLog } from '../helpers/commit-log.js';
import { recordBatch, seqsOf } from '../helpers/record-batch.js';

/** CountingVfs is a FaultyVfs that counts the bytes its read handles return. */
class CountingVfs extends FaultyVfs {
  bytesRead = 0;

  override openRead(path: string): ReadableFile {
    const f = super.openRead(path);
    return {
      path: f.path,
      size: f.size,
      readAt: (position, length) => {
        const b = f.readAt(position, length);
        this.bytesRead += b.length;
        return b;
      },
      close: () => {
        f.close();
      },
    };
  }
}

const BATCH = 20;
const BATCHES = 400;
/** value is each record's value: 200 bytes, so a batch's frame is about 4.6 KiB and the log about 1.8 MiB. */
const value = (): Buffer => Buffer.alloc(200, 0x61);

/** written opens a log on `vfs` in one segment and writes BATCHES batches of BATCH records. */
async function written(vfs: FaultyVfs): Promise<TestLog> {
  const t = await openTestLog(vfs, { segmentBytes: 8 << 20, durability: 'none' });
  for (let first = 1; first <= BATCH * BATCHES; first += BATCH)
    await t.log.appendRecords(recordBatch(first, first + BATCH - 1, value), first, first + BATCH - 1);
  return t;
}

/** restOfBatch lists the seqs from `seq` to the end of its batch. */
function restOfBatch(seq: number): number[] {
  const end = Math.ceil(seq / BATCH) * BATCH;
  return Array.from({ length: end - seq + 1 }, (_, i) => seq + i);
}

describe('a one-record read of an older segment', () => {
  it('reads about an index step before it, not a whole window, and answers the rest of its batch', async () => {
    const vfs = new CountingVfs();
    const t = await written(vfs);
    try {
      const cursor = new StoreCursor(vfs, STORE);
      const frame = recordBatch(1, BATCH, value).length + 64;
      for (const seq of [1, 7, 500, 1999, 4000, 6001]) {
        const before = vfs.bytesRead;
        const r = cursor.readAfter(t.commit.segments(), seq - 1, 1);
        const read = vfs.bytesRead - before;
        assert.ok(r !== 'gone', `seq ${String(seq)}`);
        assert.deepEqual(seqsOf(r.records), restOfBatch(seq));
        assert.ok(
          read <= INDEX_EVERY_BYTES + 2 * frame,
          `seq ${String(seq)}: read ${String(read)} bytes for ${String(r.records.length)}`,
        );
        // The same records a large read starts with.
        const large = new StoreCursor(vfs, STORE).readAfter(t.commit.segments(), seq - 1, 1 << 20);
        assert.ok(large !== 'gone');
        assert.ok(large.records.subarray(0, r.records.length).equals(r.records));
      }
    } finally {
      await t.close();
    }
  });

  it('reports a damaged record it answers as corruption, naming the segment, wherever the read starts in its batch', async () => {
    const vfs = new CountingVfs();
    const t = await written(vfs);
    try {
      const [path] = segmentFiles(vfs);
      const seq = 2345;
      const at = vfs.readFile(path!).indexOf(Buffer.from(`k${String(seq)}a`));
      assert.ok(at > 0);
      vfs.corrupt(path!, at + 40); // a byte of its value
      const corrupt = (err: Error & { code?: string }): boolean =>
        err.code === 'CORRUPTION' && err.message.includes(path!);
      for (const after of [seq - 1, seq - 2, seq - (seq % BATCH)])
        assert.throws(() => new StoreCursor(vfs, STORE).readAfter(t.commit.segments(), after, 1), corrupt);
    } finally {
      await t.close();
    }
  });
});
