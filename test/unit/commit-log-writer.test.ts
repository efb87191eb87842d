/**
 * The commit log's writer, through one store's StoreLog: records read back in order across
 * segment rolls, group commit, refusal and resumption after a failed fsync or a full disk, and
 * nothing synced lost at a power cut.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CorruptionError } from '../../src/errors.js';
import { RETRY_MS } from '../../src/storage/commit-log-failure.js';
import {
  BASE_BODY_BYTES,
  FRAME_HEADER_BYTES,
  LOG_HEADER_BYTES,
  MARK_FRAME_BYTES,
} from '../../src/storage/commit-log-format.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import { recordSize, TYPE_DELETE, TYPE_PUT } from '../../src/storage/wal-format.js';
import { LOG_DIR, openTestLog, recoverLog, STORE, type TestLog } from '../helpers/commit-log.js';

const DIR = LOG_DIR;
const b = (s: string): Buffer => Buffer.from(s);
/** FIRST is the offset of the first records batch (after the header and the store's base frame, each batch with its sync mark). */
const FIRST = LOG_HEADER_BYTES + MARK_FRAME_BYTES + FRAME_HEADER_BYTES + BASE_BODY_BYTES;

/** Writer is the old WalWriter's shape over a TestLog, so each test reads as before. */
interface Writer {
  /** append resolves with the record's seq. */
  append: (...a: Parameters<TestLog['log']['append']>) => Promise<number>;
  close: () => Promise<void>;
}

async function writer(vfs: FaultyVfs, segmentBytes = 1 << 20): Promise<Writer> {
  const t = await openTestLog(vfs, { segmentBytes });
  return { append: (...a) => t.log.append(...a).then((r) => r.seq), close: t.close };
}

async function recover(
  vfs: FaultyVfs,
  repair = false,
): Promise<{
  rec: Awaited<ReturnType<typeof recoverLog>>['rec'];
  lastSeq: number;
  records: [number, number, string, string][];
}> {
  const { rec, records } = await recoverLog(vfs, repair);
  return {
    rec,
    lastSeq: (rec.nextSeqs.get(STORE) ?? 1) - 1,
    records: records
      .filter((r) => r[0] === STORE)
      .map(([, seq, type, key, value]) => [seq, type, key, value]),
  };
}

describe('commit log writer', () => {
  it('reads back every record written, in seq order, across segment rolls', async () => {
    const vfs = new FaultyVfs();
    const w = await writer(vfs, 200);
    const seqs: number[] = [];
    for (let i = 0; i < 20; i++)
      seqs.push(
        await w.append(
          i % 5 === 4 ? TYPE_DELETE : TYPE_PUT,
          b(`key${i}`),
          i % 5 === 4 ? null : b(`value-${i}`),
        ),
      );
    await w.close();
    assert.deepEqual(
      seqs,
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    assert.ok(vfs.list(DIR).length > 3, 'small segments rolled over');
    const { rec, records } = await recover(vfs);
    assert.equal((await recover(vfs)).lastSeq, 20);
    assert.equal(rec.damage.length, 0);
    assert.equal(records.length, 20);
    assert.deepEqual(records[4], [5, TYPE_DELETE, 'key4', '']);
    assert.deepEqual(records[19]![3], '');
    assert.deepEqual(records[18], [19, TYPE_PUT, 'key18', 'value-18']);
  });

  it('group-commits concurrent writes: one sync per batch, not per write', async () => {
    const vfs = new FaultyVfs();
    const w = await writer(vfs);
    const before = vfs.syncCount;
    await Promise.all(Array.from({ length: 100 }, (_, i) => w.append(TYPE_PUT, b(`k${i}`), b('v'))));
    assert.ok(vfs.syncCount - before <= 2, `syncs for 100 concurrent writes: ${vfs.syncCount - before}`);
    await w.close();
  });

  it('cuts off a torn frame at the log tail and logs it as torn', async () => {
    const vfs = new FaultyVfs();
    const w = await writer(vfs);
    for (let i = 0; i < 5; i++) await w.append(TYPE_PUT, b(`k${i}`), b('value'));
    await w.close();
    const path = `${DIR}/00000001.log`;
    const f = vfs.file(path);
    f.data = f.data.subarray(0, f.data.length - 3);
    f.synced = f.data;
    const { rec, records } = await recover(vfs);
    assert.equal(records.length, 4, 'the truncated trailing record is ignored');
    assert.equal(rec.damage[0]?.kind, 'torn-tail');
    const again = await recover(vfs);
    assert.equal(again.rec.damage.length, 0, 'the tail was cut off the file, so a second recovery is clean');
    const w2 = await writer(vfs, 1 << 20);
    assert.equal(await w2.append(TYPE_PUT, b('after'), b('x')), 5, 'the next write reuses the lost seq');
    await w2.close();
    assert.equal((await recover(vfs)).records.length, 5);
  });

  it('reports a flipped byte in the middle of a segment with the file and its offset', async () => {
    const vfs = new FaultyVfs();
    const w = await writer(vfs);
    for (let i = 0; i < 5; i++) await w.append(TYPE_PUT, b(`k${i}`), b('value'));
    await w.close();
    const frameBytes = MARK_FRAME_BYTES + FRAME_HEADER_BYTES + recordSize(2, 5);
    const offset = FIRST + frameBytes * 2 + MARK_FRAME_BYTES + FRAME_HEADER_BYTES + 12;
    vfs.corrupt(`${DIR}/00000001.log`, offset);
    await assert.rejects(recover(vfs), (err: unknown) => {
      assert.ok(err instanceof CorruptionError);
      assert.equal(err.file, `${DIR}/00000001.log`);
      assert.equal(err.offset, FIRST + frameBytes * 2 + MARK_FRAME_BYTES);
      assert.match(err.message, /checksum mismatch/);
      return true;
    });
  });

  it('with repair, keeps everything before the damage and reports what it dropped', async () => {
    const vfs = new FaultyVfs();
    const w = await writer(vfs, 150);
    for (let i = 0; i < 20; i++) await w.append(TYPE_PUT, b(`k${i}`), b('value'));
    await w.close();
    vfs.corrupt(`${DIR}/00000002.log`, LOG_HEADER_BYTES + 5);
    const { rec, records } = await recover(vfs, true);
    assert.equal(rec.damage[0]!.kind, 'repaired');
    assert.ok(rec.damage[0]!.droppedSegments >= 1);
    assert.equal(
      records.length,
      rec.segments[0]!.stores.get(STORE)!.last,
      'records of the first segment survive',
    );
  });

  it('stops at a missing segment in the sequence', async () => {
    const vfs = new FaultyVfs();
    const w = await writer(vfs, 150);
    for (let i = 0; i < 20; i++) await w.append(TYPE_PUT, b(`k${i}`), b('value'));
    await w.close();
    vfs.unlink(`${DIR}/00000002.log`);
    await assert.rejects(recover(vfs), /segment 2 is missing/);
  });

  it('refuses a batch whose fsync fails, never acknowledges it, rewinds the seq and resumes', async () => {
    const vfs = new FaultyVfs();
    const w = await writer(vfs);
    assert.equal(await w.append(TYPE_PUT, b('ok1'), b('v')), 1);
    vfs.failSyncs(1);
    await assert.rejects(w.append(TYPE_PUT, b('lost'), b('v')), /DISK_FULL|fsync failed/);
    await assert.rejects(w.append(TYPE_PUT, b('too-soon'), b('v')), /refused/);
    await new Promise((r) => setTimeout(r, RETRY_MS + 20));
    assert.equal(await w.append(TYPE_PUT, b('ok2'), b('v')), 2, 'seqs stay gapless after a refused batch');
    await w.close();
    const { records } = await recover(vfs);
    assert.deepEqual(
      records.map((r) => r[2]),
      ['ok1', 'ok2'],
    );
  });

  it('refuses writes with DISK_FULL on ENOSPC and resumes when space returns', async () => {
    const vfs = new FaultyVfs();
    const w = await writer(vfs);
    await w.append(TYPE_PUT, b('a'), b('v'));
    vfs.setCapacity(vfs.usedBytes() + 10);
    await assert.rejects(
      w.append(TYPE_PUT, b('big'), Buffer.alloc(100)),
      (err: unknown) => (err as { code?: string }).code === 'DISK_FULL',
    );
    vfs.setCapacity(Infinity);
    await new Promise((r) => setTimeout(r, RETRY_MS + 20));
    assert.equal(await w.append(TYPE_PUT, b('b'), b('v')), 2);
    await w.close();
    assert.deepEqual(
      (await recover(vfs)).records.map((r) => r[2]),
      ['a', 'b'],
    );
  });

  it('keeps writing into the current segment when the disk fills while a new segment is started', async () => {
    const vfs = new FaultyVfs();
    const w = await writer(vfs, 200);
    const record = MARK_FRAME_BYTES + FRAME_HEADER_BYTES + recordSize(2, 5); // one batch per write: key "kN", value "value"
    let seq = 0;
    // Fill segment 1 up to the write that takes it past 200 bytes; leave room for that write and
    // 10 bytes of the next segment's header only.
    while (FIRST + (seq + 1) * record < 200) seq = await w.append(TYPE_PUT, b(`k${seq % 10}`), b('value'));
    vfs.setCapacity(vfs.usedBytes() + record + 10);
    seq = await w.append(TYPE_PUT, b(`k${seq % 10}`), b('value'));
    await new Promise((r) => setImmediate(r)); // the roll to segment 2 runs after the write resolves
    vfs.setCapacity(Infinity);
    for (let i = 0; i < 10; i++) seq = await w.append(TYPE_PUT, b(`k${i}`), b('value'));
    await w.close();
    const { rec, records } = await recover(vfs);
    assert.equal(rec.damage.length, 0, JSON.stringify(rec.damage));
    assert.deepEqual(
      records.map((r) => r[0]),
      Array.from({ length: seq }, (_, i) => i + 1),
      'every acknowledged record is read back',
    );
  });

  it('loses nothing synced when power fails, in fsync mode', async () => {
    const vfs = new FaultyVfs();
    const w = await writer(vfs);
    const acked: number[] = [];
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => w.append(TYPE_PUT, b(`k${i}`), b('v')).then((s) => acked.push(s))),
    );
    void w.append(TYPE_PUT, b('in-flight'), b('v')).catch(() => undefined);
    const rebooted = vfs.crash(true);
    const { records } = await recover(rebooted);
    for (const s of acked)
      assert.ok(
        records.some((r) => r[0] === s),
        `acknowledged seq ${s} survived`,
      );
  });
});
