/**
 * A data directory last run by the build before `.new-segment` (merge logloss-67) and cut off by a
 * crash must still open after the upgrade. That build made a segment under its own name
 * (`openAppend(NNNNNNNN.log)`, then the header, then a sync) and wrote `.log-id` before its first
 * segment: a kill -9 or power cut between those steps left a newest segment without a whole header
 * (empty), or a `.log-id` with no segment beside it. It held no acknowledged write, and that build's
 * recovery cut it as a torn tail. This build reads both as "emptied or removed by hand" and refuses
 * every store of the worker (docs/commit-log-format.md, "A log removed or emptied by hand"), though
 * no crash of its own can leave them, a crash of the previous build can.
 *
 * So `.log-id` carries a mark, `whole=N` (docs/commit-log-format.md, "Identity"): segments from N on
 * were made whole, and only there (and for a marked `.log-id` alone) is recovery strict.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LOG_ID_FILE } from '../../src/storage/commit-log-format.js';
import { readLogId } from '../../src/storage/commit-log-identity.js';
import { CorruptionError } from '../../src/errors.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import { TYPE_PUT } from '../../src/storage/wal-format.js';
import { LOG_DIR, openTestLog, recoverLog, segmentFiles, STORE } from '../helpers/commit-log.js';

/**
 * logWith writes `n` acknowledged records (seqs 1..n) into a fresh log, then "kill -9": nothing
 * closed; its `.log-id` is then as the previous build wrote it (id and first segment, no mark).
 */
async function logWith(n: number): Promise<FaultyVfs> {
  const vfs = new FaultyVfs();
  const t = await openTestLog(vfs, { preallocate: false });
  for (let i = 1; i <= n; i++) await t.log.append(TYPE_PUT, Buffer.from(`k${i}`), Buffer.from(`v${i}`));
  const crashed = vfs.crash();
  const idFile = readLogId(crashed, LOG_DIR)!;
  await crashed.writeFile(join(LOG_DIR, LOG_ID_FILE), Buffer.from(`${idFile.id}\n${idFile.first}\n`));
  return crashed;
}

describe('a data directory the previous build left by a crash opens after the upgrade', () => {
  it('whose newest segment is empty (killed between creating a segment and writing its header)', async () => {
    const vfs = await logWith(20);
    const [only] = segmentFiles(vfs);
    assert.equal(only, join(LOG_DIR, '00000001.log'));
    // What the previous createSegment left: the next segment's file made under its name, nothing in it.
    const f = await vfs.openAppend(join(LOG_DIR, '00000002.log'), true);
    await f.sync();
    const { records } = await recoverLog(vfs);
    assert.deepEqual(
      records.filter((r) => r[0] === STORE).map((r) => r[1]),
      Array.from({ length: 20 }, (_, i) => i + 1),
      'every acknowledged write, the empty segment cut as the torn creation it is',
    );
  });

  it('whose .log-id has no segment beside it (killed at its first start, between .log-id and the first segment)', async () => {
    const vfs = new FaultyVfs();
    vfs.mkdirp(LOG_DIR);
    // The previous openSegments wrote .log-id first, then made segment 1.
    await vfs.writeFile(join(LOG_DIR, LOG_ID_FILE), Buffer.from('0123456789abcdef\n1\n'));
    const { records } = await recoverLog(vfs);
    assert.deepEqual(records, []);
  });
});

/** PREVIOUS_ID is the id of a log the previous build made. */
const PREVIOUS_ID = '0123456789abcdef';

/** idText is the test log's `.log-id` as written on disk. */
function idText(vfs: FaultyVfs): string {
  return vfs.readFile(join(LOG_DIR, LOG_ID_FILE)).toString('utf8');
}

/** appendRange appends the records with seqs from..to (keys k<seq>) through `t`. */
async function appendRange(
  t: Awaited<ReturnType<typeof openTestLog>>,
  from: number,
  to: number,
): Promise<void> {
  for (let i = from; i <= to; i++) await t.log.append(TYPE_PUT, Buffer.from(`k${i}`), Buffer.from(`v${i}`));
}

/** seqsOf reads the log as recovery does and returns the test store's seqs. */
async function seqsOf(vfs: FaultyVfs): Promise<number[]> {
  const { records } = await recoverLog(vfs);
  return records.filter((r) => r[0] === STORE).map((r) => r[1]);
}

/** refusedNaming says whether `err` is the corruption refusal naming `file`. */
function refusedNaming(file: string): (err: unknown) => boolean {
  return (err: unknown) => err instanceof CorruptionError && err.file === file;
}

describe('the whole=N mark in .log-id: strict from N on, as the previous build below it', () => {
  it('a log this build made still refuses its newest segment emptied', async () => {
    const vfs = new FaultyVfs();
    const t = await openTestLog(vfs, { segmentBytes: 400, preallocate: false });
    await appendRange(t, 1, 30);
    const crashed = vfs.crash();
    assert.equal(readLogId(crashed, LOG_DIR)?.whole, 1);
    const files = segmentFiles(crashed);
    assert.ok(files.length >= 3, `${files.length} segments`);
    const newest = files[files.length - 1]!;
    const f = crashed.file(newest);
    f.data = Buffer.alloc(0);
    f.synced = Buffer.alloc(0);
    await assert.rejects(recoverLog(crashed), refusedNaming(newest));
  });

  it('a marked .log-id whose segments were all removed is refused', async () => {
    const vfs = new FaultyVfs();
    const t = await openTestLog(vfs, { preallocate: false });
    await appendRange(t, 1, 5);
    const crashed = vfs.crash();
    assert.equal(readLogId(crashed, LOG_DIR)?.whole, 1);
    for (const p of segmentFiles(crashed)) crashed.unlink(p);
    await assert.rejects(recoverLog(crashed), refusedNaming(LOG_DIR));
  });

  it("an unmarked .log-id alone (the previous build's first start) opens as a new log and is marked once its segment is whole", async () => {
    const vfs = new FaultyVfs();
    vfs.mkdirp(LOG_DIR);
    await vfs.writeFile(join(LOG_DIR, LOG_ID_FILE), Buffer.from(`${PREVIOUS_ID}\n1\n`));
    const t = await openTestLog(vfs, { preallocate: false });
    assert.deepEqual(readLogId(vfs, LOG_DIR), { id: PREVIOUS_ID, first: 1, whole: 1 });
    // The previous build reads the first two lines only: they are what it wrote.
    assert.deepEqual(idText(vfs).split('\n').slice(0, 2), [PREVIOUS_ID, '1']);
    await appendRange(t, 1, 5);
    const crashed = vfs.crash();
    assert.deepEqual(await seqsOf(crashed), [1, 2, 3, 4, 5]);
    // Marked now: the same state is a log removed by hand.
    for (const p of segmentFiles(crashed)) crashed.unlink(p);
    await assert.rejects(recoverLog(crashed), refusedNaming(LOG_DIR));
  });

  it('an unmarked log is marked at open with the segment it continues, and the mark never rises', async () => {
    const vfs = await logWith(20);
    assert.equal(readLogId(vfs, LOG_DIR)?.whole, undefined);
    const t = await openTestLog(vfs, { preallocate: false });
    assert.equal(readLogId(vfs, LOG_DIR)?.whole, 1, 'continues segment 1, whose header is whole');
    assert.match(idText(vfs), /^[0-9a-f]+\n1\nwhole=1\n$/);
    await t.close();
    const again = await openTestLog(vfs, { segmentBytes: 400, preallocate: false });
    await appendRange(again, 21, 60);
    assert.ok(segmentFiles(vfs).length >= 3);
    await again.close();
    await (await openTestLog(vfs, { segmentBytes: 400, preallocate: false })).close();
    assert.equal(readLogId(vfs, LOG_DIR)?.whole, 1, 'a later open keeps the lower mark');
  });

  it("segments rolled to after the upgrade are strict; the previous build's torn creation before them is cut", async () => {
    // The previous build's log of three segments, cut by a crash while it made the fourth.
    const vfs = new FaultyVfs();
    const t = await openTestLog(vfs, { segmentBytes: 400, preallocate: false });
    await appendRange(t, 1, 30);
    const old = vfs.crash();
    const id = readLogId(old, LOG_DIR)!.id;
    await old.writeFile(join(LOG_DIR, LOG_ID_FILE), Buffer.from(`${id}\n1\n`));
    const oldNewest = segmentFiles(old).length;
    await (await old.openAppend(join(LOG_DIR, `${String(oldNewest + 1).padStart(8, '0')}.log`), true)).sync();
    const { rec, records } = await recoverLog(old);
    assert.deepEqual(
      rec.damage.map((d) => d.kind),
      ['torn-tail'],
    );
    assert.equal(records.length, 30);
    // The upgraded build continues the newest whole segment (or, full, starts the next) and marks the log from it.
    const up = await openTestLog(old, { segmentBytes: 400, preallocate: false });
    const written = segmentFiles(old).length;
    assert.ok(written === oldNewest || written === oldNewest + 1, `${written} segments`);
    assert.equal(readLogId(old, LOG_DIR)?.whole, written);
    await appendRange(up, 31, 60);
    const crashed = old.crash();
    assert.deepEqual(
      await seqsOf(crashed),
      Array.from({ length: 60 }, (_, i) => i + 1),
    );
    const files = segmentFiles(crashed);
    assert.ok(files.length > oldNewest, `${files.length} segments: rolled past ${oldNewest}`);
    const newest = files[files.length - 1]!;
    const f = crashed.file(newest);
    f.data = Buffer.alloc(0);
    f.synced = Buffer.alloc(0);
    await assert.rejects(recoverLog(crashed), refusedNaming(newest));
  });
});
