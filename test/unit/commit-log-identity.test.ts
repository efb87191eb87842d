/**
 * A commit log's identity (docs/commit-log-format.md, "Identity"): a segment of another log copied
 * in under a number of this one (a partial restore, a copied directory) is refused at startup as
 * corruption naming the file, not replayed (which silently lost the acknowledged writes the
 * replaced segment held); `--repair` drops it like other damage; a log of the previous format
 * (version 1 headers, no id) still opens and goes on in identified segments.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CorruptionError } from '../../src/errors.js';
import { LOG_ID_FILE, LOG_VERSION, LOG_VERSION_UNIDENTIFIED } from '../../src/storage/commit-log-format.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import { TYPE_PUT } from '../../src/storage/wal-format.js';
import { LOG_DIR, openTestLog, recoverLog, STORE } from '../helpers/commit-log.js';

const b = (s: string): Buffer => Buffer.from(s);
const segmentsOf = (vfs: FaultyVfs): string[] =>
  vfs
    .list(LOG_DIR)
    .filter((n) => n.endsWith('.log'))
    .sort()
    .map((n) => join(LOG_DIR, n));

/** writeLog writes `n` records of store `id` into a fresh log and returns its file system. */
async function writeLog(n: number, id: number, segmentBytes = 1 << 20): Promise<FaultyVfs> {
  const vfs = new FaultyVfs();
  const t = await openTestLog(vfs, { segmentBytes }, id);
  for (let i = 0; i < n; i++) await t.log.append(TYPE_PUT, b(`key-${id}-${i}`), b(`value-${i}`));
  await t.close();
  return vfs;
}

/** seqsOf returns the seqs of store `id` that recovery of `vfs` replays. */
async function seqsOf(vfs: FaultyVfs, id = STORE, repair = false): Promise<number[]> {
  const { records } = await recoverLog(vfs, repair);
  return records.filter((r) => r[0] === id).map((r) => r[1]);
}

/** copyInto overwrites `path` of `to` with the file of the same path in `from`. */
async function copyInto(from: FaultyVfs, to: FaultyVfs, path: string): Promise<void> {
  await to.writeFile(path, from.readFile(path));
}

describe('commit log identity', () => {
  it('refuses at startup a newest segment copied in from another log under its number, naming the file', async () => {
    const ours = await writeLog(5, STORE);
    const theirs = await writeLog(3, STORE + 1);
    const [newest] = segmentsOf(ours);
    assert.ok(
      newest !== undefined && segmentsOf(theirs).includes(newest),
      'both logs have this segment number',
    );
    await copyInto(theirs, ours, newest);
    const err = await recoverLog(ours).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof CorruptionError, `refused, not replayed: ${String(err)}`);
    assert.equal(err.file, newest);
    assert.match(err.message, /belongs to commit log [0-9a-f]{16}, not to this directory's log/);
    assert.match(err.message, /--repair/);
  });

  it('refuses it by the segments before it when the id file was lost too, and drops it with --repair', async () => {
    const ours = await writeLog(40, STORE, 300);
    const theirs = await writeLog(40, STORE + 1, 300);
    const all = segmentsOf(ours);
    assert.ok(all.length > 3, 'several segments');
    const newest = all[all.length - 1]!;
    assert.ok(segmentsOf(theirs).includes(newest));
    const before = await seqsOf(ours);
    await copyInto(theirs, ours, newest);
    ours.unlink(join(LOG_DIR, LOG_ID_FILE));
    await assert.rejects(recoverLog(ours), (e: unknown) => {
      assert.ok(e instanceof CorruptionError);
      assert.equal(e.file, newest);
      assert.match(e.message, /not to the segments before it/);
      return true;
    });
    // --repair keeps the log up to the foreign segment and drops it, like any damage.
    const { rec, records } = await recoverLog(ours, true);
    assert.equal(rec.damage.length, 1);
    assert.equal(rec.damage[0]!.kind, 'repaired');
    assert.equal(rec.damage[0]!.file, newest);
    const kept = records.filter((r) => r[0] === STORE).map((r) => r[1]);
    assert.deepEqual(kept, before.slice(0, kept.length), 'what is kept is this log, in order');
    assert.equal(records.filter((r) => r[0] === STORE + 1).length, 0, 'nothing of the other log is replayed');
    // The repaired log opens and goes on.
    const t = await openTestLog(ours, { segmentBytes: 300 });
    assert.equal((await t.log.append(TYPE_PUT, b('after'), b('repair'))).seq, kept[kept.length - 1]! + 1);
    await t.close();
    assert.deepEqual((await seqsOf(ours)).slice(-1), [kept[kept.length - 1]! + 1]);
  });

  it('opens a log of the previous format (no id) and goes on in a new identified segment', async () => {
    const vfs = await writeLog(6, STORE);
    // Make it a version 1 log: headers without an id, no id file.
    for (const path of segmentsOf(vfs)) {
      const buf = vfs.readFile(path);
      buf[4] = LOG_VERSION_UNIDENTIFIED;
      buf.fill(0, 12, 24);
      await vfs.writeFile(path, buf);
    }
    vfs.unlink(join(LOG_DIR, LOG_ID_FILE));
    assert.deepEqual(await seqsOf(vfs), [1, 2, 3, 4, 5, 6]);
    const old = segmentsOf(vfs);
    const t = await openTestLog(vfs);
    assert.equal((await t.log.append(TYPE_PUT, b('k'), b('v'))).seq, 7);
    await t.close();
    const now = segmentsOf(vfs);
    assert.equal(now.length, old.length + 1, 'the old segment is not continued');
    assert.equal(vfs.readFile(now[now.length - 1]!)[4], LOG_VERSION);
    assert.ok(vfs.exists(join(LOG_DIR, LOG_ID_FILE)));
    assert.deepEqual(await seqsOf(vfs), [1, 2, 3, 4, 5, 6, 7]);
    // A segment without an id after an identified one was copied in from elsewhere.
    const unidentified = Buffer.from(vfs.readFile(old[0]!));
    unidentified.writeUInt32LE(now.length, 8);
    await vfs.writeFile(now[now.length - 1]!, unidentified);
    await assert.rejects(
      recoverLog(vfs),
      /has no log id \(commit log format 1\), but log [0-9a-f]{16} identifies every segment from 2 on/,
    );
  });
});
