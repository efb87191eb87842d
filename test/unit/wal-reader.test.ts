/**
 * The previous layout's WAL reader (read once, to migrate a store's own `wal/`) keeps the recovery
 * rule of docs/wal-format.md, "Torn tail or corruption": a bad record in the newest segment with no
 * valid record after it is a torn tail, cut off and reported; a bad record followed by a valid one
 * is corruption, refused with the file and offset unless `repair`, which keeps what comes before
 * and reports what it dropped. A missing segment is always corruption.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CorruptionError } from '../../src/errors.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import {
  encodeHeader,
  encodeRecord,
  recordSize,
  segmentName,
  TYPE_PUT,
  WAL_HEADER_BYTES,
} from '../../src/storage/wal-format.js';
import { readWal, type WalRecovery } from '../../src/storage/wal-reader.js';

const DIR = '/data/wal';
/** RECORD is the size of every record `segment` writes (key "kN", value "vN", N one digit). */
const RECORD = recordSize(2, 2);

/** segment writes segment `no` holding records first..last (every one RECORD bytes) and returns its path. */
async function segment(vfs: FaultyVfs, no: number, first: number, last: number): Promise<string> {
  const parts = [encodeHeader(no, 0, first)];
  for (let seq = first; seq <= last; seq++) {
    const r = Buffer.alloc(RECORD);
    encodeRecord(r, 0, TYPE_PUT, seq, Buffer.from(`k${seq % 10}`), Buffer.from(`v${seq % 10}`));
    parts.push(r);
  }
  const path = `${DIR}/${segmentName(no)}`;
  vfs.mkdirp(DIR);
  await vfs.writeFile(path, Buffer.concat(parts));
  return path;
}

async function read(vfs: FaultyVfs, repair = false): Promise<{ rec: WalRecovery; seqs: number[] }> {
  const seqs: number[] = [];
  const rec = await readWal(vfs, DIR, { afterSeq: 0, repair, onRecord: (r) => seqs.push(r.seq) });
  return { rec, seqs };
}

const upTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

describe('WAL reader (previous layout): torn tail or corruption', () => {
  it('cuts off a torn record at the tail of the newest segment and reports it', async () => {
    const vfs = new FaultyVfs();
    const path = await segment(vfs, 1, 1, 5);
    const f = vfs.file(path);
    const whole = f.data.length;
    f.data = f.data.subarray(0, whole - 3);
    const { rec, seqs } = await read(vfs);
    assert.deepEqual(seqs, upTo(4));
    assert.deepEqual(rec.damage, [
      {
        file: path,
        offset: whole - RECORD,
        reason: 'record runs past the end of the file',
        kind: 'torn-tail',
        droppedBytes: RECORD - 3,
        droppedSegments: 0,
      },
    ]);
    assert.equal(vfs.file(path).data.length, whole - RECORD, 'the tail was cut off the file');
    assert.equal(rec.lastSeq, 4);
    assert.equal((await read(vfs)).rec.damage.length, 0, 'a second read finds nothing to cut');
  });

  it('removes a newest segment whose header never got written whole', async () => {
    const vfs = new FaultyVfs();
    await segment(vfs, 1, 1, 3);
    const path = await segment(vfs, 2, 4, 4);
    vfs.file(path).data = vfs.file(path).data.subarray(0, WAL_HEADER_BYTES - 2);
    const { rec, seqs } = await read(vfs);
    assert.deepEqual(seqs, upTo(3));
    assert.equal(rec.damage.length, 1);
    assert.equal(rec.damage[0]!.kind, 'torn-tail');
    assert.equal(rec.damage[0]!.droppedSegments, 1);
    assert.equal(vfs.exists(path), false);
  });

  it('refuses a damaged record followed by a valid one, naming the file and offset', async () => {
    const vfs = new FaultyVfs();
    const path = await segment(vfs, 1, 1, 5);
    const bad = WAL_HEADER_BYTES + 2 * RECORD;
    vfs.file(path).data[bad + RECORD - 1]! ^= 0xff;
    await assert.rejects(read(vfs), (err) => {
      assert.ok(err instanceof CorruptionError);
      assert.equal(err.file, path);
      assert.equal(err.offset, bad);
      assert.match(err.message, /a valid record \(seq 4\) follows at offset \d+, so this is damage/);
      assert.match(err.message, /--repair/);
      return true;
    });
  });

  it('with repair, keeps the records before the damage and reports what it dropped', async () => {
    const vfs = new FaultyVfs();
    const path = await segment(vfs, 1, 1, 5);
    const later = await segment(vfs, 2, 6, 7);
    const bad = WAL_HEADER_BYTES + 2 * RECORD;
    vfs.file(path).data[bad + RECORD - 1]! ^= 0xff;
    const laterBytes = vfs.file(later).data.length;
    const { rec, seqs } = await read(vfs, true);
    assert.deepEqual(seqs, upTo(2));
    assert.equal(rec.damage.length, 1);
    assert.equal(rec.damage[0]!.kind, 'repaired');
    assert.equal(rec.damage[0]!.offset, bad);
    assert.equal(rec.damage[0]!.droppedBytes, 3 * RECORD + laterBytes);
    assert.equal(rec.damage[0]!.droppedSegments, 1);
    assert.equal(vfs.exists(later), false);
    assert.equal((await read(vfs)).rec.damage.length, 0, 'the repaired log reads clean');
  });

  it('refuses a missing segment number even in the newest segment', async () => {
    const vfs = new FaultyVfs();
    await segment(vfs, 1, 1, 2);
    const path = await segment(vfs, 3, 3, 4);
    await assert.rejects(read(vfs), (err) => {
      assert.ok(err instanceof CorruptionError);
      assert.equal(err.file, path);
      assert.equal(err.offset, 0);
      assert.match(err.message, /segment 2 is missing/);
      return true;
    });
  });
});
