/**
 * The spare's paced zero-fill (docs/commit-log-format.md, "Rolling"; commit-log-roll.ts): its
 * chunks are spread over the current segment's way to its roll, each written after one of the
 * log's syncs, never back to back while the log writes, and the spare is still whole before the
 * roll. A roll that comes before the spare is ready creates its segment as before, and the log
 * rolls into the spare early once it is ready.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EARLY_ROLL_BYTES } from '../../src/storage/commit-log-roll.js';
import { SPARE_CHUNK_BYTES, SPARE_NAME } from '../../src/storage/commit-log-spare.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import { TYPE_PUT } from '../../src/storage/wal-format.js';
import { openTestLog, recoverLog, segmentFiles, STORE, type TestLog } from '../helpers/commit-log.js';

const VALUE = Buffer.alloc(16 * 1024, 5);

/** WatchedVfs records the spare's chunk writes and the log's syncs in order, and can hold the spare's syncs. */
class WatchedVfs extends FaultyVfs {
  readonly events: ('chunk' | 'log sync')[] = [];
  /** holdSpare: while set, the spare's syncs wait for it. */
  holdSpare: Promise<void> | undefined;

  override doWriteAt(path: string, data: Uint8Array, position: number): Promise<void> {
    if (path.endsWith(SPARE_NAME) && data.length === SPARE_CHUNK_BYTES) this.events.push('chunk');
    return super.doWriteAt(path, data, position);
  }

  override async doSync(path: string): Promise<void> {
    const spare = path.endsWith(SPARE_NAME);
    if (spare && this.holdSpare !== undefined) await this.holdSpare;
    await super.doSync(path);
    if (!spare) this.events.push('log sync');
  }
}

/** writeUntil appends VALUE records from `from` until `done` holds (at most `max` records); returns the next index. */
async function writeUntil(t: TestLog, done: () => boolean, from: number, max = 2000): Promise<number> {
  let i = from;
  while (!done() && i - from < max) await t.log.append(TYPE_PUT, Buffer.from(`k${i++}`), VALUE);
  return i;
}

/** logSyncsBetweenChunks counts the log's syncs between each two chunk writes of a spare. */
function logSyncsBetweenChunks(events: readonly string[]): number[] {
  const gaps: number[] = [];
  let syncs: number | undefined;
  for (const e of events)
    if (e === 'chunk') {
      if (syncs !== undefined) gaps.push(syncs);
      syncs = 0;
    } else if (syncs !== undefined) syncs++;
  return gaps;
}

async function assertRecovers(vfs: FaultyVfs, next: number): Promise<void> {
  const { rec, records } = await recoverLog(vfs);
  assert.deepEqual(rec.damage, []);
  assert.deepEqual(
    records.filter((r) => r[0] === STORE).map((r) => r[1]),
    Array.from({ length: next - 1 }, (_, k) => k + 1),
  );
}

describe('commit log: the spare is filled at the log’s pace', () => {
  it('spreads the chunks between the log’s syncs and is whole before each roll (early and full)', async () => {
    const segment = 4 * SPARE_CHUNK_BYTES;
    const vfs = new WatchedVfs();
    const t = await openTestLog(vfs, { segmentBytes: segment });
    // An early roll (after EARLY_ROLL_BYTES), then a full one: two spares of 4 chunks each.
    const next = await writeUntil(t, () => segmentFiles(vfs).length === 3, 1);
    const files = segmentFiles(vfs);
    assert.equal(files.length, 3);
    assert.ok(vfs.file(files[0]!).data.length < 2 * EARLY_ROLL_BYTES, 'the first segment rolled early');
    assert.ok(vfs.file(files[1]!).data.length >= segment, 'the second was a whole spare, filled to its end');
    assert.equal(
      vfs.file(files[2]!).data.length,
      segment,
      'the third is a whole spare: ready before the roll',
    );
    const gaps = logSyncsBetweenChunks(vfs.events);
    assert.ok(gaps.length >= 6, `two spares' chunks: ${gaps.length + 1}`);
    // Each chunk waits for the log to move on: 16 KiB batches, a chunk per 1/6 MiB (early) or 1/3 MiB of them.
    assert.ok(
      gaps.every((n) => n >= 5),
      `log syncs between the spare's chunks: ${gaps.join(' ')}`,
    );
    await t.close();
    await assertRecovers(vfs, next);
  });

  it('fills the spare whole when one batch took the segment past its end before the spare started', async () => {
    const segment = 4 * SPARE_CHUNK_BYTES;
    const vfs = new WatchedVfs();
    const t = await openTestLog(vfs, { segmentBytes: segment });
    // One record larger than the segment: the spare starts paced against a way already gone by
    // (from past its `to`), and the segment rolls before the spare is ready.
    await t.log.append(TYPE_PUT, Buffer.from('big'), Buffer.alloc(segment + SPARE_CHUNK_BYTES / 2, 7));
    const next = await writeUntil(t, () => segmentFiles(vfs).length === 4, 1, 4000);
    const files = segmentFiles(vfs);
    assert.equal(files.length, 4);
    assert.equal(
      vfs.file(files[3]!).data.length,
      segment,
      `the newest segment is a whole spare (segments: ${files.map((f) => vfs.file(f).data.length).join(', ')})`,
    );
    await t.close();
    const { rec } = await recoverLog(vfs);
    assert.deepEqual(rec.damage, []);
    assert.ok(next > 1);
  });

  it('creates the segment as before when the roll comes before the spare is ready, then rolls into it early', async () => {
    const segment = 2 * SPARE_CHUNK_BYTES;
    const vfs = new WatchedVfs();
    let release = (): void => undefined;
    vfs.holdSpare = new Promise<void>((r) => {
      release = r;
    });
    const t = await openTestLog(vfs, { segmentBytes: segment });
    // The spare started after EARLY_ROLL_BYTES cannot sync its first chunk: the full segment rolls without it.
    let next = await writeUntil(t, () => segmentFiles(vfs).length === 2, 1);
    const second = segmentFiles(vfs)[1]!;
    assert.ok(vfs.file(second).data.length < segment, 'the second segment was created by appending');
    release();
    vfs.holdSpare = undefined;
    next = await writeUntil(t, () => segmentFiles(vfs).length === 3, next);
    const files = segmentFiles(vfs);
    assert.equal(files.length, 3);
    // Paced against this segment's early roll, the spare is ready by the time it took EARLY_ROLL_BYTES.
    assert.ok(
      vfs.file(files[1]!).data.length < EARLY_ROLL_BYTES + 4 * VALUE.length,
      `the created segment rolled early into the spare, at ${vfs.file(files[1]!).data.length} bytes`,
    );
    assert.equal(vfs.file(files[2]!).data.length, segment, 'the third is the whole spare');
    await t.close();
    await assertRecovers(vfs, next);
  });
});
