/**
 * Sync marks (docs/commit-log-format.md, "Sync marks"): every batch opens with a mark saying how far
 * its segment was known synced. Writes over a preallocated segment's blocks can reach the disk out of
 * order, so a power cut can keep a later page of an in-flight batch and lose an earlier one; with the
 * marks, recovery reads that as a torn tail (nothing after the lost page was ever synced), while a
 * flipped byte in a batch that a later mark covers stays corruption.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CorruptionError } from '../../src/errors.js';
import {
  FRAME_HEADER_BYTES,
  LOG_VERSION,
  LOG_VERSION_UNMARKED,
  MARK_FRAME_BYTES,
} from '../../src/storage/commit-log-format.js';
import { FaultyVfs, PAGE_BYTES } from '../../src/storage/faulty-vfs.js';
import { TYPE_PUT } from '../../src/storage/wal-format.js';
import { LOG_DIR, openTestLog, recoverLog, STORE, type TestLog } from '../helpers/commit-log.js';
import { GatedVfs } from '../helpers/gated-vfs.js';

const SEGMENT = 64 * 1024;
const b = (s: string): Buffer => Buffer.from(s);

/** newestSegment is the path of the log's newest segment. */
function newestSegment(vfs: FaultyVfs): string {
  const names = vfs.list(LOG_DIR).filter((n) => n.endsWith('.log'));
  return join(LOG_DIR, names.sort().pop()!);
}

/** copyDisk returns a new FaultyVfs holding the log directory of `vfs` (all of it synced). */
async function copyDisk(vfs: FaultyVfs): Promise<FaultyVfs> {
  const copy = new FaultyVfs();
  copy.mkdirp(LOG_DIR);
  for (const n of vfs.list(LOG_DIR)) await copy.writeFile(join(LOG_DIR, n), vfs.file(join(LOG_DIR, n)).data);
  return copy;
}

/** storeSeqs recovers the log (with `repair`) and returns the store's seqs and the damage found. */
async function storeSeqs(
  vfs: FaultyVfs,
  repair = false,
): Promise<{ seqs: number[]; rec: Awaited<ReturnType<typeof recoverLog>>['rec'] }> {
  const { rec, records } = await recoverLog(vfs, repair);
  return { rec, seqs: records.filter((r) => r[0] === STORE).map((r) => r[1]) };
}

/** put writes key `k` with a value of `size` bytes and resolves with its seq. */
async function put(t: TestLog, k: string, size: number): Promise<number> {
  return (await t.log.append(TYPE_PUT, b(k), Buffer.alloc(size, k))).seq;
}

/** rolled opens a log on `vfs` and writes until it writes into a rolled (preallocated) segment; returns it and the acknowledged seqs. */
async function rolled(vfs: GatedVfs | FaultyVfs): Promise<{ t: TestLog; acked: number[] }> {
  const t = await openTestLog(vfs, { segmentBytes: SEGMENT });
  const acked: number[] = [];
  for (let i = 0; t.commit.segments().length < 2; i++) acked.push(await put(t, `k${i}`, 1000));
  for (let i = 0; i < 3; i++) acked.push(await put(t, `a${i}`, 100));
  return { t, acked };
}

const upTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

describe('commit log: sync marks', () => {
  it('reads an in-flight batch whose later page reached the disk without an earlier one as a torn tail', async () => {
    const gated = new GatedVfs();
    const { t, acked } = await rolled(gated);
    const newest = t.commit.segments()[t.commit.segments().length - 1]!;
    const path = newest.path;
    const inFlightAt = newest.bytes;
    assert.equal(gated.disk.file(path).data.length, SEGMENT, 'the batches go over a preallocated segment');
    // Two batches in flight: A spans pages, B lies wholly in a later page than A's start.
    gated.hold();
    const a = t.log.append(TYPE_PUT, b('A'), Buffer.alloc(2 * PAGE_BYTES, 'A')).catch(() => undefined);
    await gated.untilHeld(1);
    const c = t.log.append(TYPE_PUT, b('B'), b('b')).catch(() => undefined);
    await gated.untilHeld(2);
    // The power cut loses the page A starts in and keeps every later one (with the rest of A, and B).
    let page = 0;
    const disk = gated.disk.crash('pages', () => (page++ === 0 ? 0.9 : 0.1));
    gated.release();
    await Promise.all([a, c]);
    const data = disk.file(path).data;
    const zeros = (at: number, n: number): boolean => data.subarray(at, at + n).equals(Buffer.alloc(n));
    assert.ok(zeros(inFlightAt, MARK_FRAME_BYTES), "A's first page was lost");
    assert.ok(!zeros(inFlightAt + PAGE_BYTES, PAGE_BYTES), 'a later page of A reached the disk');

    // The rule without marks (the same bytes under a version 2 header) calls it corruption.
    const unmarked = await copyDisk(disk);
    unmarked.file(path).data[4] = LOG_VERSION_UNMARKED;
    await assert.rejects(
      storeSeqs(unmarked),
      (err: unknown) => err instanceof CorruptionError && err.offset === inFlightAt,
    );

    const { rec, seqs } = await storeSeqs(disk);
    assert.deepEqual(seqs, upTo(acked.length), 'every acknowledged write is there, nothing after them');
    assert.equal(rec.damage.length, 1);
    assert.equal(rec.damage[0]!.kind, 'torn-tail');
    assert.equal(rec.damage[0]!.offset, inFlightAt);
    const again = await openTestLog(disk, { segmentBytes: SEGMENT });
    assert.equal(await put(again, 'after', 10), acked.length + 1, 'the log continues after the cut');
    await again.close();
    assert.deepEqual((await storeSeqs(disk)).seqs, upTo(acked.length + 1));
  });

  it('still refuses a flipped byte in an acknowledged batch that a later mark covers, and --repair cuts there', async () => {
    const vfs = new FaultyVfs();
    const { t, acked } = await rolled(vfs);
    const seg = t.commit.segments()[1]!;
    const damagedAt = seg.bytes; // the next batch: its records frame starts after its mark
    const seq = await put(t, 'flipped', 100);
    for (let i = 0; i < 3; i++) await put(t, `later${i}`, 100);
    const disk = vfs.crash();
    const frame = damagedAt + MARK_FRAME_BYTES;
    disk.corrupt(seg.path, frame + FRAME_HEADER_BYTES + 30);
    await assert.rejects(storeSeqs(disk), (err: unknown) => {
      assert.ok(err instanceof CorruptionError);
      assert.equal(err.file, seg.path);
      assert.equal(err.offset, frame);
      assert.match(err.message, /sync mark saying the segment was synced through offset \d+ follows/);
      return true;
    });
    const { rec, seqs } = await storeSeqs(disk, true);
    assert.deepEqual(seqs, upTo(seq - 1));
    assert.equal(rec.damage[0]!.kind, 'repaired');
    assert.equal(rec.damage[0]!.offset, frame);
    assert.equal(newestSegment(disk), seg.path);
    assert.ok(acked.length === seq - 1);
  });

  it('marks what the interval timer synced, so damage it covered stays corruption in interval mode', async () => {
    const vfs = new FaultyVfs();
    const t = await openTestLog(vfs, { durability: 'interval', fsyncIntervalMs: 5 });
    const seg = t.commit.segments()[0]!;
    const at = seg.bytes;
    const deadline = Date.now() + 5000;
    const timerSync = async (): Promise<void> => {
      const before = vfs.syncCount;
      while (vfs.syncCount === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    };
    await put(t, 'early', 100);
    await timerSync(); // covers 'early': the next batch's mark says so
    await put(t, 'late', 100);
    await timerSync(); // keeps 'late' (and its mark) through the power cut
    const disk = vfs.crash();
    disk.corrupt(seg.path, at + MARK_FRAME_BYTES + FRAME_HEADER_BYTES + 30);
    await assert.rejects(
      storeSeqs(disk),
      (err: unknown) => err instanceof CorruptionError && err.offset === at + MARK_FRAME_BYTES,
    );
  });

  it('never continues a version 2 segment: after an upgrade the first write starts a version 3 one', async () => {
    const vfs = new FaultyVfs();
    const t = await openTestLog(vfs);
    for (let i = 0; i < 3; i++) await put(t, `k${i}`, 10);
    await t.close();
    const first = newestSegment(vfs);
    for (const bytes of [vfs.file(first).data, vfs.file(first).synced]) bytes[4] = LOG_VERSION_UNMARKED;
    const again = await openTestLog(vfs);
    assert.equal(await put(again, 'after', 10), 4);
    await again.close();
    const newest = newestSegment(vfs);
    assert.notEqual(newest, first);
    assert.equal(vfs.file(newest).data[4], LOG_VERSION);
    const { rec, seqs } = await storeSeqs(vfs);
    assert.deepEqual(seqs, upTo(4));
    assert.deepEqual(
      rec.segments.map((s) => s.marked),
      [false, true],
    );
  });
});
