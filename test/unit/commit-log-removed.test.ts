/**
 * A commit log removed or emptied by hand is refused; what a crash leaves is not
 * (docs/commit-log-format.md, "A log removed or emptied by hand"). A log never deletes its newest
 * segment, names a segment only once its header is synced and writes `.log-id` only once a segment
 * is whole: so a `.log-id` without segments, or a segment without a whole header, was done by hand,
 * and the acknowledged writes that were only there are gone. Before, both read as a log with less
 * in it (the emptied segment cut as "a torn frame at the tail"), and the stores served the older
 * subset. A crash while a segment is being made (its header not yet synced) must still cost
 * nothing: no acknowledged write was in it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CorruptionError } from '../../src/errors.js';
import { CommitLog } from '../../src/storage/commit-log.js';
import { decodeLogHeader, LOG_HEADER_BYTES, LOG_ID_FILE } from '../../src/storage/commit-log-format.js';
import { FaultyVfs, type Tear } from '../../src/storage/faulty-vfs.js';
import { StoreLog } from '../../src/storage/store-log.js';
import type { WritableFile } from '../../src/storage/vfs.js';
import { TYPE_PUT } from '../../src/storage/wal-format.js';
import { LOG_DIR, openTestLog, recoverLog, segmentFiles, STORE } from '../helpers/commit-log.js';
import { seededRandom } from '../helpers/random.js';

/** logWith writes `n` acknowledged records (seqs 1..n) into a fresh log, then "kill -9": nothing closed. */
async function logWith(n: number, segmentBytes = 1 << 20): Promise<FaultyVfs> {
  const vfs = new FaultyVfs();
  const t = await openTestLog(vfs, { segmentBytes, preallocate: false });
  for (let i = 1; i <= n; i++) await t.log.append(TYPE_PUT, Buffer.from(`k${i}`), Buffer.from(`v${i}`));
  return vfs.crash();
}

/** seqsOf reads the log as recovery does and returns the test store's seqs. */
async function seqsOf(vfs: FaultyVfs, repair = false): Promise<number[]> {
  const { records } = await recoverLog(vfs, repair);
  return records.filter((r) => r[0] === STORE).map((r) => r[1]);
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** setFile replaces a file's bytes, on disk (synced) as by hand. */
function setFile(vfs: FaultyVfs, path: string, data: Buffer): void {
  const f = vfs.file(path);
  f.data = data;
  f.synced = Buffer.from(data);
}

/**
 * CrashAtCreate is a FaultyVfs that loses power when the first segment file it is told to watch
 * for (a segment made by the log, under whatever name) is synced: the header written, not durable.
 */
class CrashAtCreate extends FaultyVfs {
  rebooted: FaultyVfs | undefined;
  armed = false;
  private watched: string | undefined;
  private readonly tear: Tear;
  private readonly random: () => number;

  constructor(tear: Tear, random: () => number) {
    super();
    this.tear = tear;
    this.random = random;
  }

  /** crashed says the power was cut. */
  crashed(): boolean {
    return this.rebooted !== undefined;
  }

  override openAppend(path: string, truncate: boolean): Promise<WritableFile> {
    const segmentFile = /(\d{8}\.log|\.new-segment)$/.test(path);
    if (this.armed && truncate && segmentFile && this.watched === undefined) this.watched = path;
    return super.openAppend(path, truncate);
  }

  override doSync(path: string): Promise<void> {
    if (this.rebooted === undefined && path === this.watched) {
      this.rebooted = this.crash(this.tear, this.random);
      return Promise.reject(new Error('power cut'));
    }
    return super.doSync(path);
  }
}

/** assertWholeSegments checks that every segment file of the log has a whole header. */
function assertWholeSegments(vfs: FaultyVfs): void {
  for (const path of segmentFiles(vfs))
    assert.equal(typeof decodeLogHeader(vfs.readFile(path)), 'object', `${path} has a whole header`);
}

describe('a commit log removed by hand', () => {
  it('refuses a log whose segments were all deleted while its .log-id says it existed, naming the log', async () => {
    const vfs = await logWith(20);
    for (const path of segmentFiles(vfs)) vfs.unlink(path);
    assert.ok(vfs.exists(join(LOG_DIR, LOG_ID_FILE)));
    await assert.rejects(recoverLog(vfs), (err: unknown) => {
      assert.ok(err instanceof CorruptionError, String(err));
      assert.equal(err.file, LOG_DIR);
      assert.match(err.message, /no commit log segment is left/);
      assert.match(err.message, /every store of this worker/);
      assert.match(err.message, /put the segments back, or restart with --repair/);
      return true;
    });
  });

  it('with --repair, opens a log whose segments were all deleted, reporting it, and goes on', async () => {
    const vfs = await logWith(20);
    for (const path of segmentFiles(vfs)) vfs.unlink(path);
    const { rec } = await recoverLog(vfs, true);
    assert.equal(rec.damage.length, 1);
    assert.equal(rec.damage[0]!.kind, 'repaired');
    assert.equal(rec.damage[0]!.file, LOG_DIR);
    // As a start with --repair goes on: the log opens over what the repairing read left.
    const commit = await CommitLog.open({
      vfs,
      dir: LOG_DIR,
      segmentBytes: 1 << 20,
      retentionBytes: 0,
      durability: 'fsync',
      fsyncIntervalMs: 100,
      segments: rec.segments,
    });
    const log = new StoreLog(commit, STORE, 1, 1 << 20);
    await commit.attach(log, 1);
    await log.append(TYPE_PUT, Buffer.from('after'), Buffer.from('v'));
    await log.close();
    await commit.close();
    assert.deepEqual(await seqsOf(vfs), [1], 'the log starts again; the store holds its own files');
    assert.deepEqual((await recoverLog(vfs)).rec.damage, []);
  });
});

describe('a commit log segment emptied by hand', () => {
  it('refuses the only segment emptied, cut inside its header or with its header overwritten', async () => {
    const random = seededRandom(67);
    const contents = (data: Buffer): Buffer[] => [
      Buffer.alloc(0),
      Buffer.from(data.subarray(0, 2)),
      Buffer.from(data.subarray(0, LOG_HEADER_BYTES - 1)),
      Buffer.concat([Buffer.alloc(LOG_HEADER_BYTES), data.subarray(LOG_HEADER_BYTES)]),
      Buffer.from(Array.from({ length: 300 }, () => Math.floor(random() * 256))),
    ];
    const [only] = segmentFiles(await logWith(20));
    for (let k = 0; k < 5; k++) {
      const vfs = await logWith(20);
      assert.deepEqual(segmentFiles(vfs), [only]);
      setFile(vfs, only!, contents(vfs.readFile(only!))[k]!);
      await assert.rejects(recoverLog(vfs), (err: unknown) => {
        assert.ok(err instanceof CorruptionError, `case ${k}: ${String(err)}`);
        assert.equal(err.file, only);
        assert.equal(err.offset, 0);
        assert.match(err.message, k === 0 ? /the segment is empty/ : /no valid header/);
        assert.match(err.message, /put the segment back, or restart with --repair/);
        return true;
      });
    }
  });

  it('refuses the newest of several segments emptied; --repair keeps the segments before it', async () => {
    const vfs = await logWith(30, 400);
    const files = segmentFiles(vfs);
    assert.ok(files.length >= 3, `${files.length} segments`);
    const newest = files[files.length - 1]!;
    const all = await seqsOf(vfs);
    assert.deepEqual(all, range(30));
    setFile(vfs, newest, Buffer.alloc(0));
    await assert.rejects(
      recoverLog(vfs),
      (err: unknown) => err instanceof CorruptionError && err.file === newest && /empty/.test(err.message),
    );
    const { rec } = await recoverLog(vfs, true);
    assert.equal(rec.damage[0]!.kind, 'repaired');
    assert.equal(vfs.exists(newest), false, 'repair dropped the emptied segment');
    const kept = rec.segments[rec.segments.length - 1]!.stores.get(STORE)!.last;
    assert.ok(kept < 30);
    assert.deepEqual(await seqsOf(vfs), range(kept));
  });
});

describe('what a crash leaves is not refused', () => {
  it('a power cut while a segment is rolled to (its header not yet synced) loses no acknowledged write', async () => {
    const random = seededRandom(670);
    for (const tear of [false, true, true, true] as Tear[]) {
      const vfs = new CrashAtCreate(tear, random);
      const t = await openTestLog(vfs, { segmentBytes: 400, preallocate: false });
      vfs.armed = true;
      let acked = 0;
      for (let i = 1; i <= 50 && !vfs.crashed(); i++) {
        const write = t.log.append(TYPE_PUT, Buffer.from(`k${i}`), Buffer.from(`v${i}`));
        // The write the roll's crash caught is refused (or never settles): it was not acknowledged.
        const ok = await Promise.race([
          write.then(
            () => true,
            () => false,
          ),
          new Promise<boolean>((r) => {
            setTimeout(() => {
              r(false);
            }, 200);
          }),
        ]);
        if (ok && !vfs.crashed()) acked = i;
      }
      const disk = vfs.rebooted;
      assert.ok(disk !== undefined, 'the log rolled to a new segment');
      assert.ok(acked > 0);
      const seqs = await seqsOf(disk);
      assert.deepEqual(seqs.slice(0, acked), range(acked), `tear ${String(tear)}: every acknowledged write`);
      const again = await openTestLog(disk, { segmentBytes: 400, preallocate: false });
      await again.log.append(TYPE_PUT, Buffer.from('after'), Buffer.from('v'));
      await again.close();
      assertWholeSegments(disk);
      const after = await seqsOf(disk);
      assert.deepEqual(after, range(after.length), 'the log goes on with gapless seqs');
      assert.deepEqual((await recoverLog(disk)).rec.damage, []);
    }
  });

  it('a power cut while a fresh log makes its first segment leaves a log that opens (no .log-id yet)', async () => {
    for (const tear of [false, true] as Tear[]) {
      const vfs = new CrashAtCreate(tear, seededRandom(7));
      vfs.armed = true;
      await assert.rejects(openTestLog(vfs, { preallocate: false }));
      const disk = vfs.rebooted!;
      assert.deepEqual(await seqsOf(disk), []);
      const t = await openTestLog(disk, { preallocate: false });
      await t.log.append(TYPE_PUT, Buffer.from('first'), Buffer.from('v'));
      await t.close();
      assertWholeSegments(disk);
      assert.deepEqual(await seqsOf(disk), [1]);
    }
  });

  it('a fresh log (no .log-id, no segment) opens, and writes .log-id only beside a whole segment', async () => {
    const vfs = new FaultyVfs();
    const { rec } = await recoverLog(vfs);
    assert.deepEqual(rec.segments, []);
    assert.deepEqual(rec.damage, []);
    const t = await openTestLog(vfs, { preallocate: false });
    assert.ok(vfs.exists(join(LOG_DIR, LOG_ID_FILE)));
    assert.equal(segmentFiles(vfs).length, 1);
    assertWholeSegments(vfs);
    await t.close();
  });
});
