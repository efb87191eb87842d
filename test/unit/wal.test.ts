import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CorruptionError } from '../../src/errors.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import { TYPE_DELETE, TYPE_PUT, WAL_HEADER_BYTES } from '../../src/storage/wal-format.js';
import { readWal, type WalRecovery } from '../../src/storage/wal-reader.js';
import { RETRY_MS, WalWriter } from '../../src/storage/wal-writer.js';

const DIR = '/store/wal';
const b = (s: string): Buffer => Buffer.from(s);

async function writer(vfs: FaultyVfs, segmentBytes = 1 << 20, recovery?: WalRecovery): Promise<WalWriter> {
  return WalWriter.open({
    vfs,
    dir: DIR,
    segmentBytes,
    durability: 'fsync',
    fsyncIntervalMs: 100,
    segments: recovery?.segments ?? [],
    nextSeq: (recovery?.lastSeq ?? 0) + 1,
  });
}

async function recover(
  vfs: FaultyVfs,
  afterSeq = 0,
  repair = false,
): Promise<{ rec: WalRecovery; records: [number, number, string, string][] }> {
  const records: [number, number, string, string][] = [];
  const rec = await readWal(vfs, DIR, {
    afterSeq,
    repair,
    onRecord: (r) => records.push([r.seq, r.type, r.key.toString(), r.value.toString()]),
  });
  return { rec, records };
}

describe('WAL', () => {
  it('reads back every record written, in seq order, across segment rolls', async () => {
    const vfs = new FaultyVfs();
    const w = await writer(vfs, 200);
    const seqs: number[] = [];
    for (let i = 0; i < 20; i++)
      seqs.push(
        await w.append(
          i % 5 === 4 ? TYPE_DELETE : TYPE_PUT,
          b(`key${i}`),
          i % 5 === 4 ? undefined : b(`value-${i}`),
        ),
      );
    await w.close();
    assert.deepEqual(
      seqs,
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    assert.ok(vfs.list(DIR).length > 3, 'small segments rolled over');
    const { rec, records } = await recover(vfs);
    assert.equal(rec.lastSeq, 20);
    assert.equal(records.length, 20);
    assert.deepEqual(records[4], [5, TYPE_DELETE, 'key4', '']);
    assert.deepEqual(records[19]![3], '');
    assert.deepEqual(records[18], [19, TYPE_PUT, 'key18', 'value-18']);
  });

  it('delivers only records above afterSeq, skipping whole old segments', async () => {
    const vfs = new FaultyVfs();
    const w = await writer(vfs, 150);
    for (let i = 0; i < 30; i++) await w.append(TYPE_PUT, b(`k${i}`), b('v'));
    await w.close();
    const { rec, records } = await recover(vfs, 25);
    assert.deepEqual(
      records.map((r) => r[0]),
      [26, 27, 28, 29, 30],
    );
    assert.equal(rec.segments[0]!.firstSeq, 1);
  });

  it('group-commits concurrent writes: one sync per batch, not per write', async () => {
    const vfs = new FaultyVfs();
    const w = await writer(vfs);
    const before = vfs.syncCount;
    await Promise.all(Array.from({ length: 100 }, (_, i) => w.append(TYPE_PUT, b(`k${i}`), b('v'))));
    assert.ok(vfs.syncCount - before <= 2, `syncs for 100 concurrent writes: ${vfs.syncCount - before}`);
    await w.close();
  });

  it('cuts off a torn record at the WAL tail and logs it as torn', async () => {
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
    const w2 = await writer(vfs, 1 << 20, again.rec);
    assert.equal(await w2.append(TYPE_PUT, b('after'), b('x')), 5, 'the next write reuses the lost seq');
    await w2.close();
    assert.equal((await recover(vfs)).records.length, 5);
  });

  it('reports a flipped byte in the middle of a segment with the file and its offset', async () => {
    const vfs = new FaultyVfs();
    const w = await writer(vfs);
    for (let i = 0; i < 5; i++) await w.append(TYPE_PUT, b(`k${i}`), b('value'));
    await w.close();
    const recordBytes = 8 + 11 + 2 + 5;
    const offset = WAL_HEADER_BYTES + recordBytes * 2 + 12;
    vfs.corrupt(`${DIR}/00000001.log`, offset);
    await assert.rejects(recover(vfs), (err: unknown) => {
      assert.ok(err instanceof CorruptionError);
      assert.equal(err.file, `${DIR}/00000001.log`);
      assert.equal(err.offset, WAL_HEADER_BYTES + recordBytes * 2);
      assert.match(err.message, /checksum mismatch/);
      return true;
    });
  });

  it('with repair, keeps everything before the damage and reports what it dropped', async () => {
    const vfs = new FaultyVfs();
    const w = await writer(vfs, 150);
    for (let i = 0; i < 20; i++) await w.append(TYPE_PUT, b(`k${i}`), b('value'));
    await w.close();
    vfs.corrupt(`${DIR}/00000002.log`, WAL_HEADER_BYTES + 5);
    const { rec, records } = await recover(vfs, 0, true);
    assert.equal(rec.damage[0]!.kind, 'repaired');
    assert.ok(rec.damage[0]!.droppedSegments >= 1);
    assert.equal(records.length, rec.segments[0]!.lastSeq, 'records of the first segment survive');
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
    const record = 8 + 11 + 2 + 5; // key "kN", value "value"
    let seq = 0;
    // Fill segment 1 up to the write that takes it past 200 bytes; leave room for that write and
    // 10 bytes of the next segment's header only.
    while (WAL_HEADER_BYTES + (seq + 1) * record < 200)
      seq = await w.append(TYPE_PUT, b(`k${seq % 10}`), b('value'));
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
