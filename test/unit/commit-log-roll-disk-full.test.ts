/**
 * A commit log whose disk fills (or fails) exactly as it rolls to a new segment
 * (src/storage/commit-log-segments.ts: `.new-segment` created, header written and synced, renamed,
 * the directory synced; `.log-id` written at open): every acknowledged write stays, a refused one
 * is never found, the log takes writes again once the fault is gone without a reopen, and it
 * reopens (after a power cut) holding exactly what was acknowledged.
 */
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { describe, it } from 'node:test';
import { LOG_ID_FILE } from '../../src/storage/commit-log-format.js';
import { NEW_SEGMENT_NAME } from '../../src/storage/commit-log-segments.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import type { WritableFile } from '../../src/storage/vfs.js';
import { TYPE_PUT } from '../../src/storage/wal-format.js';
import {
  LOG_DIR,
  openTestLog,
  recoverLog,
  segmentFiles,
  STORE,
  type TestLog,
} from '../helpers/commit-log.js';

const SEGMENT = 64 * 1024;
const VALUE = Buffer.alloc(1000, 7);

/** Fault is the step of a roll (or of an open) that fails while it is set. */
type Fault = 'create' | 'header-sync' | 'rename' | 'dir-sync' | 'log-id';

function enospc(what: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOSPC: no space left on device, ${what}`), { code: 'ENOSPC' });
}

/** RollFaults fails one step of making a segment (or the `.log-id` write) for as long as `fault` is set. */
class RollFaults extends FaultyVfs {
  fault: Fault | undefined;
  hits = 0;
  /** renamedSegment: the last rename named a segment (a dir-sync fault fails the sync right after it). */
  private renamedSegment = false;

  override async openAppend(path: string, truncate: boolean): Promise<WritableFile> {
    if (this.fault === 'create' && basename(path) === NEW_SEGMENT_NAME) {
      this.hits++;
      throw enospc('open');
    }
    const file = await super.openAppend(path, truncate);
    if (this.fault !== 'header-sync' || basename(path) !== NEW_SEGMENT_NAME) return file;
    const sync = file.sync.bind(file);
    file.sync = () => {
      if (this.fault !== 'header-sync') return sync();
      this.hits++;
      return Promise.reject(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
    };
    return file;
  }

  override async writeFile(path: string, data: Uint8Array): Promise<void> {
    if (this.fault === 'log-id' && basename(path).startsWith(LOG_ID_FILE)) {
      this.hits++;
      throw enospc('write');
    }
    return super.writeFile(path, data);
  }

  override rename(from: string, to: string): void {
    const segment = /^[0-9]+\.log$/.test(basename(to));
    if (this.fault === 'rename' && segment) {
      this.hits++;
      throw enospc('rename');
    }
    super.rename(from, to);
    this.renamedSegment = segment;
  }

  override syncDir(): void {
    if (this.fault === 'dir-sync' && this.renamedSegment) {
      this.renamedSegment = false;
      this.hits++;
      throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    }
    super.syncDir();
  }
}

/** put appends key `k<i>` and says whether it was acknowledged (rejections are the refusals). */
async function put(t: TestLog, i: number): Promise<number | string> {
  try {
    return (await t.log.append(TYPE_PUT, Buffer.from(`k${i}`), VALUE)).seq;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

/** recovered reads the log back as recovery does: the store's keys, in seq order, and any damage. */
async function recovered(vfs: FaultyVfs): Promise<{ keys: string[]; damage: unknown[] }> {
  const { records, rec } = await recoverLog(vfs);
  return { keys: records.filter((r) => r[0] === STORE).map((r) => r[3]), damage: rec.damage };
}

/**
 * rollUnder writes through two segments' worth of records with `fault` set from the first roll
 * on, then clears it and writes on; checks that what was acknowledged, and only that, is in the
 * log (before and after a power cut), that writes resume without a reopen, and that the log
 * rolled once the fault was gone.
 */
async function rollUnder(fault: Fault, preallocate: boolean): Promise<void> {
  const vfs = new RollFaults();
  const t = await openTestLog(vfs, { segmentBytes: SEGMENT, preallocate });
  const acked: string[] = [];
  const refused = new Map<string, string>();
  vfs.fault = fault;
  let i = 0;
  for (; i < 160; i++) {
    const r = await put(t, i);
    if (typeof r === 'number') acked.push(`k${i}`);
    else refused.set(`k${i}`, r);
  }
  assert.ok(vfs.hits > 0, `the ${fault} fault was hit`);
  vfs.fault = undefined;
  const segmentsBefore = segmentFiles(vfs).length;
  // Writes resume without a reopen (a refusal lasts RETRY_MS at most).
  let resumed = false;
  for (let tries = 0; tries < 40 && !resumed; tries++) {
    const r = await put(t, i);
    if (typeof r === 'number') {
      acked.push(`k${i}`);
      resumed = true;
    } else {
      refused.set(`k${i}`, r);
      await new Promise((res) => setTimeout(res, 50));
    }
    i++;
  }
  assert.ok(resumed, `writes resume once the ${fault} fault is gone`);
  for (let n = 0; n < 100; n++, i++) {
    const r = await put(t, i);
    assert.equal(typeof r, 'number', `write k${i} after the fault`);
    acked.push(`k${i}`);
  }
  assert.ok(segmentFiles(vfs).length > segmentsBefore, 'the log rolled once it could');
  const live = await recovered(vfs);
  assert.deepEqual(live.damage, []);
  assert.deepEqual(live.keys, acked, 'the log holds every acknowledged write, and only those');
  // A power cut: the reopened log holds the same, and takes writes.
  const after = vfs.crash();
  const back = await recovered(after);
  assert.deepEqual(back.damage, []);
  assert.deepEqual(back.keys, acked, 'after a power cut: every acknowledged write, and only those');
  const again = await openTestLog(after, { segmentBytes: SEGMENT, preallocate });
  assert.equal(typeof (await put(again, 9999)), 'number');
  await again.close();
}

describe('commit log: a roll that meets a full or failing disk', () => {
  // With spares the segment is the spare renamed (no NEW_SEGMENT_NAME), unless that fails too.
  const cases = [
    ...(['create', 'header-sync', 'rename', 'dir-sync'] as const).map((fault) => ({
      fault,
      preallocate: false,
    })),
    ...(['rename', 'dir-sync'] as const).map((fault) => ({ fault, preallocate: true })),
  ];
  for (const { fault, preallocate } of cases)
    it(`keeps what was acknowledged and takes writes again once it can (${fault}, ${preallocate ? 'spares' : 'no spares'})`, async () => {
      await rollUnder(fault, preallocate);
    });
});

describe('commit log: an open that meets a full disk', () => {
  it('fails naming the disk when its newest segment is full and no segment can be made, then opens once it can', async () => {
    const vfs = new RollFaults();
    const first = await openTestLog(vfs, { segmentBytes: 1 << 20, preallocate: false });
    const acked: string[] = [];
    for (let i = 0; i < 100; i++) {
      assert.equal(typeof (await put(first, i)), 'number');
      acked.push(`k${i}`);
    }
    await first.close();
    // Reopened with a smaller wal_segment_bytes: the newest segment is full, a new one must be made.
    vfs.fault = 'create';
    await assert.rejects(openTestLog(vfs, { segmentBytes: SEGMENT, preallocate: false }), /ENOSPC/);
    vfs.fault = undefined;
    const t = await openTestLog(vfs, { segmentBytes: SEGMENT, preallocate: false });
    assert.equal(typeof (await put(t, 100)), 'number');
    acked.push('k100');
    await t.close();
    assert.deepEqual((await recovered(vfs)).keys, acked);
  });

  it('fails naming the disk when its .log-id cannot be written, leaves nothing that stops the next open', async () => {
    const vfs = new RollFaults();
    vfs.fault = 'log-id';
    await assert.rejects(openTestLog(vfs, { segmentBytes: SEGMENT, preallocate: false }), /ENOSPC/);
    vfs.fault = undefined;
    const t = await openTestLog(vfs, { segmentBytes: SEGMENT, preallocate: false });
    assert.equal(typeof (await put(t, 1)), 'number');
    await t.close();
    assert.deepEqual((await recovered(vfs)).keys, ['k1']);
    assert.ok(vfs.list(LOG_DIR).includes(LOG_ID_FILE));
  });
});

describe('commit log: a segment whose fsync keeps failing (EIO), durability fsync', () => {
  for (const preallocate of [false, true])
    it(`acknowledges no write while its fsyncs fail, and loses none it acknowledged (${preallocate ? 'spares' : 'no spares'})`, async () => {
      const vfs = new RollFaults();
      const t = await openTestLog(vfs, { segmentBytes: SEGMENT, preallocate });
      const acked: string[] = [];
      let i = 0;
      for (; i < 40; i++) {
        assert.equal(typeof (await put(t, i)), 'number');
        acked.push(`k${i}`);
      }
      vfs.failSyncs(1_000_000);
      const codes = new Set<string>();
      const deadline = Date.now() + 1500;
      // Several writes at once (batches in flight together), again and again past RETRY_MS.
      while (Date.now() < deadline) {
        const burst = await Promise.all(Array.from({ length: 8 }, () => put(t, i++)));
        for (const r of burst) {
          assert.equal(typeof r, 'string', 'no write is acknowledged while every fsync fails');
          codes.add(r as string);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(codes.size > 0);
      const back = await recovered(vfs.crash());
      assert.deepEqual(back.damage, []);
      assert.deepEqual(
        back.keys,
        acked,
        'after a power cut: exactly the writes acknowledged before the fault',
      );
    });
});
