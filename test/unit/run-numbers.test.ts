/**
 * Run numbers past six digits: runs are named NNNNNN.sst and a store's run numbers only grow while
 * it runs (every idle flush takes one), so a long-lived store reaches run 1000000. Recovery must
 * still find that run: once it is flushed, the commit log's records of its writes are trimmed.
 */
import assert from 'node:assert/strict';
import { readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

const key = (i: number): Buffer => Buffer.from(`key${String(i).padStart(4, '0')}`);
const OPTS = { maxRuns: 64, memtableBytes: 64 * 1024, walSegmentBytes: 64 * 1024 };

describe('run numbers past 999999', () => {
  it('keeps the data of run 1000000 across a restart, once the log no longer holds it', async () => {
    const dir = join(tempDir(after), 'shard-0');
    const first = await openTestLsm(dir, OPTS);
    await first.put(key(0), Buffer.from('in run 999999'));
    await first.close();
    // A store that has flushed 999999 runs since it opened (an idle flush per quiet spell).
    renameSync(join(dir, 'runs', '000001.sst'), join(dir, 'runs', '999999.sst'));

    const s = await openTestLsm(dir, OPTS);
    const value = Buffer.alloc(1000, 'v');
    // Enough writes to fill several log segments, flushed into run 1000000 and after, so the
    // log trims the segments that held them.
    for (let i = 1; i <= 400; i++) await s.put(key(i), value);
    await s.flush();
    for (let i = 1; i <= 400; i++) await s.put(key(i), value);
    await s.close();
    const runs = readdirSync(join(dir, 'runs')).filter((n) => n.endsWith('.sst'));
    assert.ok(
      runs.some((n) => n.length > '000000.sst'.length),
      `a run numbered past 999999 was written (${runs.join(' ')})`,
    );

    const again = await openTestLsm(dir, OPTS);
    try {
      const lost: number[] = [];
      for (let i = 0; i <= 400; i++) if (again.get(key(i)) === undefined) lost.push(i);
      assert.deepEqual(lost, [], `keys lost after the restart: ${lost.length}`);
    } finally {
      await again.close();
    }
  });
});
