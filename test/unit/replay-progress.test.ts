/**
 * Progress lines while recovery replays a large unflushed commit log (src/storage/replay-progress.ts).
 * Before, a start after kill -9 with a large log said nothing for seconds between "listening" and
 * "serving". Now the worker logs a line every REPLAY_PROGRESS_MS with the bytes read of the log's
 * total and the records, and one at the end; a short replay logs none.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import { openLsmStores } from '../../src/storage/lsm-recovery.js';
import type { LsmOptions } from '../../src/storage/lsm-options.js';
import { openTestGroup } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

interface Line {
  msg: string;
  bytes?: number;
  total_bytes?: number;
  records?: number;
}

function capture(): { log: pino.Logger; lines: Line[] } {
  const lines: Line[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Line) });
  return { log, lines };
}

const storeOptions = (dir: string, vfs: FaultyVfs): LsmOptions => ({
  dir,
  vfs,
  durability: 'fsync',
  fsyncIntervalMs: 20,
  memtableBytes: 64 << 20,
  maxRuns: 3,
  walSegmentBytes: 64 * 1024,
  walRetentionBytes: 0,
  blockCacheBytes: 1 << 20,
  ringBytes: 1 << 20,
  repair: false,
});

describe('replaying a commit log at start', () => {
  it('logs the bytes read of the total and the records, then the end', async () => {
    const root = tempDir(after);
    const logDir = join(root, 'log', 'w0');
    const dirs = [0, 1].map((i) => join(root, 'node_1', `shard-${i}`));
    let vfs = new FaultyVfs();
    const { log, stores } = await openTestGroup(logDir, dirs, {
      vfs,
      memtableBytes: 64 << 20,
      walSegmentBytes: 64 * 1024,
    });
    const value = Buffer.alloc(500, 7);
    for (let k = 0; k < 600; k++) await stores[k % 2]!.put(Buffer.from(`k${k}`), value);
    // kill -9: nothing flushed, everything in the log.
    vfs = vfs.crash(false);
    for (const s of stores) await s.close().catch(() => undefined);
    await log.close().catch(() => undefined);

    const { log: logger, lines } = capture();
    const opened = await openLsmStores(
      { vfs, dir: logDir, log: logger, progressMs: 0 },
      dirs.map((d) => storeOptions(d, vfs)),
    );
    try {
      const progress = lines.filter((l) => l.msg.startsWith(`replaying the commit log ${logDir}: `));
      assert.ok(progress.length >= 600, `only ${progress.length} progress lines`);
      const lastLine = progress[progress.length - 1]!;
      assert.equal(lastLine.records, 600);
      assert.equal(lastLine.bytes, lastLine.total_bytes, 'the last line is not at the total');
      assert.ok(
        lastLine.total_bytes! > 600 * 500 && lastLine.total_bytes! < 3 * 600 * 500,
        String(lastLine.total_bytes),
      );
      assert.match(lastLine.msg, /\(100%\), 600 records$/);
      for (let i = 1; i < progress.length; i++) assert.ok(progress[i]!.bytes! >= progress[i - 1]!.bytes!);
      const end = lines.find((l) => l.msg.startsWith(`replayed the commit log ${logDir}: `));
      assert.ok(end !== undefined, 'no line at the end of the replay');
      assert.match(end.msg, /600 records in [\d.]+ s$/);
    } finally {
      for (const s of opened.stores) if (!(s instanceof Error)) await s.close();
      await opened.log.close();
    }
  });
});
