/**
 * Preallocated segments (docs/commit-log-format.md, "Rolling"): the log rolls into a spare filled
 * with zeros while the segment before it filled, writes its batches over those zeros, seals each
 * segment it leaves (and the newest at a clean close) to its frames, and reads zeros after the last
 * frame of the newest segment as its clean end. A spare that cannot be prepared (a full disk) only
 * means the roll creates the segment as before.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RETRY_MS } from '../../src/storage/commit-log-failure.js';
import {
  BASE_BODY_BYTES,
  FRAME_HEADER_BYTES,
  MARK_FRAME_BYTES,
} from '../../src/storage/commit-log-format.js';
import { SPARE_NAME } from '../../src/storage/commit-log-spare.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import type { Vfs } from '../../src/storage/vfs.js';
import { TYPE_PUT } from '../../src/storage/wal-format.js';
import {
  LOG_DIR,
  openTestLog,
  recoverLog,
  segmentFiles,
  STORE,
  type TestLog,
} from '../helpers/commit-log.js';
import { GatedVfs } from '../helpers/gated-vfs.js';
import { seededRandom } from '../helpers/random.js';

const SEGMENT = 4096;
const SPARE = join(LOG_DIR, SPARE_NAME);
const b = (s: string): Buffer => Buffer.from(s);

/** put writes record `i` (a 100-byte value) and resolves with its seq. */
async function put(t: TestLog, i: number): Promise<number> {
  return (await t.log.append(TYPE_PUT, b(`k${i}`), b(`v${i}-`.padEnd(100, 'x')))).seq;
}

/** writeUntil writes records from `from` on until the log has `segments` segments; returns the next index. */
async function writeUntil(vfs: Vfs, t: TestLog, segments: number, from = 1): Promise<number> {
  let i = from;
  while (segmentFiles(vfs).length < segments) await put(t, i++);
  return i;
}

/** storeSeqs recovers the log and returns the store's seqs and the damage found. */
async function storeSeqs(
  vfs: FaultyVfs,
): Promise<{ seqs: number[]; rec: Awaited<ReturnType<typeof recoverLog>>['rec'] }> {
  const { rec, records } = await recoverLog(vfs);
  return { rec, seqs: records.filter((r) => r[0] === STORE).map((r) => r[1]) };
}

const upTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

describe('commit log: preallocated segments', () => {
  it('rolls into the spare prepared while the segment filled, and seals the segment it leaves', async () => {
    const vfs = new FaultyVfs();
    const t = await openTestLog(vfs, { segmentBytes: SEGMENT });
    const next = await writeUntil(vfs, t, 4);
    const files = segmentFiles(vfs);
    const newest = files[files.length - 1]!;
    assert.equal(vfs.file(newest).data.length, SEGMENT, 'the newest segment is a whole spare');
    const live = t.commit.segments();
    for (const [k, path] of files.slice(0, -1).entries()) {
      assert.equal(live[k]!.path, path);
      assert.equal(vfs.file(path).data.length, live[k]!.bytes, `${path} is sealed at its last frame`);
    }
    await t.close();
    assert.equal(vfs.exists(SPARE), false, 'a clean close deletes the spare');
    const { rec, seqs } = await storeSeqs(vfs);
    assert.deepEqual(seqs, upTo(next - 1));
    assert.deepEqual(rec.damage, []);
    for (const s of rec.segments)
      assert.equal(
        vfs.file(s.path).data.length,
        s.bytes,
        `${s.path} ends at its last frame after a clean close`,
      );
  });

  it('removes a spare left by an earlier run when the log opens, and never reads it as a segment', async () => {
    const vfs = new FaultyVfs();
    vfs.mkdirp(LOG_DIR);
    await vfs.writeFile(SPARE, Buffer.alloc(SEGMENT));
    const t = await openTestLog(vfs, { segmentBytes: SEGMENT });
    assert.equal(vfs.exists(SPARE), false);
    assert.equal(await put(t, 1), 1);
    await t.close();
    const { rec, seqs } = await storeSeqs(vfs);
    assert.deepEqual(seqs, [1]);
    assert.deepEqual(rec.damage, []);
  });

  it('recovers a power cut in a preallocated segment with nothing lost and nothing reported, and cuts the zeros when it opens', async () => {
    const vfs = new FaultyVfs();
    const t = await openTestLog(vfs, { segmentBytes: SEGMENT });
    const next = await writeUntil(vfs, t, 3);
    await put(t, next);
    const disk = vfs.crash();
    const { rec, seqs } = await storeSeqs(disk);
    assert.deepEqual(seqs, upTo(next));
    assert.deepEqual(rec.damage, [], 'zeros after the last frame are a clean end');
    const newest = rec.segments[rec.segments.length - 1]!;
    assert.equal(disk.file(newest.path).data.length, SEGMENT, 'recovery itself cuts nothing');
    const again = await openTestLog(disk, { segmentBytes: SEGMENT });
    assert.equal(
      disk.file(newest.path).data.length,
      newest.bytes + MARK_FRAME_BYTES + FRAME_HEADER_BYTES + BASE_BODY_BYTES,
      'the log cut the zeros at open, then appended its base frame (after its sync mark)',
    );
    assert.equal(await put(again, next + 1), next + 1);
    await again.close();
    assert.deepEqual((await storeSeqs(disk)).seqs, upTo(next + 1));
  });

  it('cuts a frame torn over the zeros of a preallocated segment as a torn tail', async () => {
    const random = seededRandom(30);
    let torn = 0;
    for (let round = 0; round < 40; round++) {
      const vfs = new FaultyVfs();
      // durability "none": the batches after the roll are unsynced, so the cut tears them.
      const t = await openTestLog(vfs, { segmentBytes: SEGMENT, durability: 'none' });
      let next = await writeUntil(vfs, t, 3);
      const sealed = t.commit.segments().at(-2)!.stores.get(STORE)!.last;
      for (const end = next + 1 + Math.floor(random() * 8); next < end;) await put(t, next++);
      const disk = vfs.crash(true, random);
      const { rec, seqs } = await storeSeqs(disk);
      assert.deepEqual(seqs, upTo(seqs.length), 'a prefix of the writes');
      assert.ok(seqs.length >= sealed && seqs.length < next, 'the sealed segments are whole');
      assert.ok(rec.damage.length <= 1);
      if (rec.damage.length === 1) {
        torn++;
        assert.equal(rec.damage[0]!.kind, 'torn-tail');
        assert.equal(
          disk.file(rec.damage[0]!.file).data.length,
          rec.damage[0]!.offset,
          'cut at the torn frame',
        );
      }
      assert.deepEqual((await storeSeqs(disk)).rec.damage, [], 'a second recovery is clean');
    }
    assert.ok(torn > 5, `only ${torn} of 40 cuts tore a frame`);
  });

  for (const then of ['the power fails', 'a shorter batch is written over it'] as const)
    it(`never replays a refused batch written into a preallocated segment when ${then}`, async () => {
      const gated = new GatedVfs();
      const t = await openTestLog(gated, { segmentBytes: SEGMENT });
      let next = await writeUntil(gated, t, 3);
      const files = segmentFiles(gated);
      assert.equal(gated.disk.file(files.at(-1)!).data.length, SEGMENT, 'writing into a spare');
      // The refused batch reached the disk; only its sync's answer failed.
      gated.afterSync = () => {
        gated.afterSync = undefined;
        throw new Error('EIO: sync failed after the write reached the disk');
      };
      const refused = t.log.append(TYPE_PUT, b('refused'), b('no'.repeat(150)));
      await assert.rejects(refused, { code: 'DISK_FULL' });
      await new Promise((r) => setTimeout(r, then === 'the power fails' ? 5 : RETRY_MS + 20));
      if (then === 'a shorter batch is written over it')
        assert.equal(await put(t, next++), next - 1, 'the refused write gave its seq back');
      const disk = gated.disk.crash();
      const { rec, records } = await recoverLog(disk);
      assert.deepEqual(rec.damage, []);
      assert.equal(
        records.filter((r) => r[3] === 'refused').length,
        0,
        'the refused record is not in the log',
      );
      assert.deepEqual(
        records.filter((r) => r[0] === STORE).map((r) => r[1]),
        upTo(next - 1),
      );
    });

  for (const fault of ['the disk is too full for one', 'it cannot be prepared'] as const)
    it(`rolls as before when ${fault}`, async () => {
      const gated = new GatedVfs();
      const vfs = gated.disk;
      const t = await openTestLog(gated, { segmentBytes: SEGMENT });
      let tries = 0;
      // Too full: room for the log's own segment and a roll, not for a spare besides (which, filled
      // beside the log's writes, would take the bytes they need).
      if (fault === 'the disk is too full for one') vfs.setCapacity(vfs.usedBytes() + SEGMENT + 1500);
      gated.onCreate = (path) => {
        if (path !== SPARE) return;
        tries++;
        if (fault === 'it cannot be prepared') throw new Error('ENOSPC: the spare cannot be created');
      };
      const next = await writeUntil(vfs, t, fault === 'it cannot be prepared' ? 3 : 2);
      const newest = segmentFiles(vfs).at(-1)!;
      assert.ok(
        vfs.file(newest).data.length < SEGMENT,
        'the newest segment was created, not taken from a spare',
      );
      if (fault === 'it cannot be prepared') assert.equal(tries, 2, 'one try per segment, not per batch');
      else assert.equal(tries, 0, 'no spare is started on a disk that has not two segments free');
      assert.equal(vfs.exists(SPARE), false, 'no spare is left behind');
      assert.equal(await put(t, next), next);
      vfs.setCapacity(Infinity);
      await t.close();
      const { rec, seqs } = await storeSeqs(vfs);
      assert.deepEqual(seqs, upTo(next));
      assert.deepEqual(rec.damage, []);
    });

  it('brings back the old bytes of an unsynced write over synced ones at a power cut, or a torn prefix of it', async () => {
    /** overwritten is a disk whose file /d/f is 100 synced zeros with 50 unsynced 7s written at 20. */
    const overwritten = async (): Promise<FaultyVfs> => {
      const vfs = new FaultyVfs();
      vfs.mkdirp('/d');
      const f = await vfs.openAppend('/d/f', true);
      await f.appendZeros(100);
      await f.sync();
      await f.writeAt(Buffer.alloc(50, 7), 20);
      return vfs;
    };
    assert.deepEqual(
      (await overwritten()).crash().file('/d/f').data,
      Buffer.alloc(100),
      'the zeros come back',
    );
    const torn = (await overwritten()).crash(true, () => 0.5).file('/d/f').data;
    assert.deepEqual(torn, Buffer.concat([Buffer.alloc(20), Buffer.alloc(40, 7), Buffer.alloc(40)]));
  });
});
