/**
 * A data directory last run by the build before `.new-segment` (merge logloss-67) and cut off by a
 * crash must still open after the upgrade. That build made a segment under its own name
 * (`openAppend(NNNNNNNN.log)`, then the header, then a sync) and wrote `.log-id` before its first
 * segment: a kill -9 or power cut between those steps left a newest segment without a whole header
 * (empty), or a `.log-id` with no segment beside it. It held no acknowledged write, and that build's
 * recovery cut it as a torn tail. This build reads both as "emptied or removed by hand" and refuses
 * every store of the worker (docs/commit-log-format.md, "A log removed or emptied by hand"), though
 * no crash of its own can leave them, a crash of the previous build can.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LOG_ID_FILE } from '../../src/storage/commit-log-format.js';
import { readLogId } from '../../src/storage/commit-log-identity.js';
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
