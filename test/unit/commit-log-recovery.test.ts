/**
 * The recovery rule for a damaged commit log (docs/wal-format.md, "Torn tail or corruption", which
 * docs/commit-log-format.md keeps per frame): a bad frame in the newest segment with no valid frame
 * after it is a torn tail, cut off and reported whatever the garbage looks like; a bad frame
 * followed by a valid one is corruption, refused with the file and offset unless --repair. Zeros
 * after the last frame of the newest segment are its clean end (the rest of a preallocated
 * segment). A segment without a whole header is never a torn tail (test/unit/commit-log-removed.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CorruptionError } from '../../src/errors.js';
import {
  BASE_BODY_BYTES,
  FRAME_HEADER_BYTES,
  LOG_HEADER_BYTES,
  MARK_FRAME_BYTES,
} from '../../src/storage/commit-log-format.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import { recordSize, TYPE_PUT } from '../../src/storage/wal-format.js';
import { LOG_DIR, openTestLog, recoverLog, STORE } from '../helpers/commit-log.js';
import { seededRandom } from '../helpers/random.js';

const DIR = LOG_DIR;
const SEG1 = `${DIR}/00000001.log`;
/** RECORD is the size of each batch written by `logWith`: its sync mark and one record (key "kN", value "value-N"). */
const RECORD = MARK_FRAME_BYTES + FRAME_HEADER_BYTES + recordSize(2, 7);
/** WAL_HEADER_BYTES is where the first records batch starts: after the header and the base frame's batch. */
const WAL_HEADER_BYTES = LOG_HEADER_BYTES + MARK_FRAME_BYTES + FRAME_HEADER_BYTES + BASE_BODY_BYTES;

/** logWith writes `n` records (seqs 1..n), one frame each, into a fresh log and returns the disk. */
async function logWith(n: number, segmentBytes = 1 << 20): Promise<FaultyVfs> {
  const vfs = new FaultyVfs();
  const t = await openTestLog(vfs, { segmentBytes });
  for (let i = 1; i <= n; i++)
    await t.log.append(TYPE_PUT, Buffer.from(`k${i % 10}`), Buffer.from(`value-${i % 10}`));
  await t.close();
  return vfs;
}

async function recover(
  vfs: FaultyVfs,
  repair = false,
): Promise<{ rec: Awaited<ReturnType<typeof recoverLog>>['rec']; seqs: number[] }> {
  const { rec, records } = await recoverLog(vfs, repair);
  return { rec, seqs: records.filter((r) => r[0] === STORE).map((r) => r[1]) };
}

function append(vfs: FaultyVfs, path: string, bytes: Buffer): void {
  const f = vfs.file(path);
  f.data = Buffer.concat([f.data, bytes]);
  f.synced = f.data;
}

function randomBytes(random: () => number, n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
}

/** assertTornTailCut checks that recovery kept seqs 1..n, cut the tail at `offset`, and that a second recovery is clean. */
async function assertTornTailCut(vfs: FaultyVfs, n: number, offset: number): Promise<void> {
  const { rec, seqs } = await recover(vfs);
  assert.deepEqual(
    seqs,
    Array.from({ length: n }, (_, i) => i + 1),
  );
  assert.equal(rec.damage.length, 1);
  assert.equal(rec.damage[0]!.kind, 'torn-tail');
  assert.equal(rec.damage[0]!.offset, offset);
  assert.equal(vfs.file(rec.damage[0]!.file).data.length, offset, 'the tail was cut off the file');
  assert.equal((await recover(vfs)).rec.damage.length, 0, 'a second recovery finds nothing to cut');
}

describe('commit log recovery: torn tails', () => {
  it('cuts off a tail of random bytes after the last record, whatever the bytes are', async () => {
    const random = seededRandom(12);
    for (let round = 0; round < 300; round++) {
      const vfs = await logWith(5);
      const length = 1 + Math.floor(random() * (round < 200 ? 64 : 4096));
      append(vfs, SEG1, randomBytes(random, length));
      await assertTornTailCut(vfs, 5, WAL_HEADER_BYTES + 5 * RECORD);
    }
  });

  it('cuts off 37 random bytes appended after a crash (the case from issue 12)', async () => {
    const vfs = await logWith(20);
    const tail = Buffer.alloc(37);
    tail.writeUInt32LE(0x1234abcd, 0);
    tail.writeUInt32LE(3331363360, 4); // a length no record can have
    append(vfs, SEG1, tail);
    await assertTornTailCut(vfs, 20, WAL_HEADER_BYTES + 20 * RECORD);
  });

  it('reads a tail of zeros after the last frame as the clean end of a preallocated segment, with nothing to cut', async () => {
    const vfs = await logWith(5);
    append(vfs, SEG1, Buffer.alloc(4096));
    const { rec, seqs } = await recover(vfs);
    assert.deepEqual(seqs, [1, 2, 3, 4, 5]);
    assert.deepEqual(rec.damage, []);
    assert.equal(rec.segments[0]!.bytes, WAL_HEADER_BYTES + 5 * RECORD, 'the logical end, not the file size');
  });

  it('cuts off a torn frame followed by zeros (a preallocated segment) as a torn tail', async () => {
    // The last batch's mark is kept whole: a mark cut in its body's zero bytes reads whole.
    for (let keep = MARK_FRAME_BYTES + 1; keep < RECORD; keep += 3) {
      const vfs = await logWith(6);
      const f = vfs.file(SEG1);
      f.data = Buffer.concat([f.data.subarray(0, f.data.length - RECORD + keep), Buffer.alloc(8192)]);
      f.synced = f.data;
      await assertTornTailCut(vfs, 5, WAL_HEADER_BYTES + 5 * RECORD + MARK_FRAME_BYTES);
    }
  });

  it('cuts off a record truncated at every possible length', async () => {
    for (let keep = 1; keep < RECORD; keep++) {
      if (keep === MARK_FRAME_BYTES) continue; // a whole mark and nothing after it: nothing is torn
      const vfs = await logWith(6);
      const f = vfs.file(SEG1);
      f.data = f.data.subarray(0, f.data.length - RECORD + keep);
      f.synced = f.data;
      // Cut inside its mark, the last batch goes whole; after its mark, only its records frame.
      const batchAt = WAL_HEADER_BYTES + 5 * RECORD;
      await assertTornTailCut(vfs, 5, keep < MARK_FRAME_BYTES ? batchAt : batchAt + MARK_FRAME_BYTES);
    }
  });

  it('cuts off a last frame whose length field is impossible', async () => {
    for (const len of [0, 5, 0xffffffff, 67174411]) {
      const vfs = await logWith(6);
      vfs.file(SEG1).data.writeUInt32LE(len, WAL_HEADER_BYTES + 5 * RECORD + MARK_FRAME_BYTES + 4);
      await assertTornTailCut(vfs, 5, WAL_HEADER_BYTES + 5 * RECORD + MARK_FRAME_BYTES);
    }
  });

  it('scans a megabyte of garbage at the tail in well under a second', async () => {
    const vfs = await logWith(5);
    append(vfs, SEG1, randomBytes(seededRandom(7), 1 << 20));
    const t0 = performance.now();
    await assertTornTailCut(vfs, 5, WAL_HEADER_BYTES + 5 * RECORD);
    assert.ok(performance.now() - t0 < 5000, `took ${Math.round(performance.now() - t0)} ms`);
  });
});

describe('commit log recovery: corruption', () => {
  it('refuses a damaged record followed by valid ones, naming the file and offset', async () => {
    const bad = WAL_HEADER_BYTES + 2 * RECORD + MARK_FRAME_BYTES;
    for (const damage of ['checksum', 'record length', 'frame length', 'impossible length']) {
      const vfs = await logWith(6);
      const data = vfs.file(SEG1).data;
      if (damage === 'checksum') data[bad + FRAME_HEADER_BYTES + 20]! ^= 0xff;
      else if (damage === 'record length') data.writeUInt32LE(1 << 20, bad + FRAME_HEADER_BYTES + 4);
      else if (damage === 'frame length') data.writeUInt32LE(data.length - bad - 8, bad + 4);
      else data.writeUInt32LE(0xffffffff, bad + 4);
      await assert.rejects(recover(vfs), (err: unknown) => {
        assert.ok(err instanceof CorruptionError, damage);
        assert.equal(err.file, SEG1);
        assert.equal(err.offset, bad, damage);
        assert.match(
          err.message,
          /a sync mark saying the segment was synced through offset \d+ follows/,
          damage,
        );
        assert.match(err.message, /--repair/);
        return true;
      });
    }
  });

  it('with --repair, keeps the records before a damaged middle record and reports what it dropped', async () => {
    const vfs = await logWith(6);
    const bad = WAL_HEADER_BYTES + 2 * RECORD + MARK_FRAME_BYTES;
    vfs.file(SEG1).data.writeUInt32LE(1 << 20, bad + 4);
    const { rec, seqs } = await recover(vfs, true);
    assert.deepEqual(seqs, [1, 2]);
    assert.equal(rec.damage[0]!.kind, 'repaired');
    assert.equal(rec.damage[0]!.offset, bad);
    assert.equal(rec.damage[0]!.droppedBytes, 4 * RECORD - MARK_FRAME_BYTES);
    assert.equal(rec.nextSeqs.get(STORE), 3);
    assert.equal((await recover(vfs)).rec.damage.length, 0, 'the repaired log reads clean');
  });

  it('refuses a newest segment with a bad header but valid records in it', async () => {
    const vfs = await logWith(12, 200); // the newest of four segments holds records
    const newest = `${DIR}/${vfs.list(DIR).sort().pop()!}`;
    assert.notEqual(newest, SEG1);
    const f = vfs.file(newest);
    f.data = Buffer.from(f.data.subarray(LOG_HEADER_BYTES)); // batches with no header before them
    f.synced = f.data;
    await assert.rejects(recover(vfs), (err: unknown) => {
      assert.ok(err instanceof CorruptionError);
      assert.equal(err.file, newest);
      assert.equal(err.offset, 0);
      assert.match(err.message, /bad magic.*valid frame/);
      return true;
    });
  });

  it('refuses a bad record in a segment that is not the newest, even with nothing valid after it', async () => {
    const vfs = await logWith(12, 200);
    const f = vfs.file(SEG1);
    f.data.writeUInt32LE(0xffffffff, f.data.length - RECORD + MARK_FRAME_BYTES + 4);
    await assert.rejects(recover(vfs), (err: unknown) => err instanceof CorruptionError && err.file === SEG1);
  });
});
