/**
 * The memory part of the store model: what an LSM store holds in memory is what its stats report
 * (the `mem*` fields, docs/operations.md "Memory"), measured as the growth of the process's
 * ArrayBuffer memory after a full garbage collection. Overwrites that flush memtables several
 * times and a replication log that drops old batches must leave nothing else behind.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { decodeRecord } from '../../src/storage/wal-format.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';
import { valueBytes } from './store-model-ops.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const MiB = 1024 * 1024;

/** heldArrayBuffers collects garbage (letting freed backing stores be swept) and returns the ArrayBuffer bytes still held. */
async function heldArrayBuffers(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  return process.memoryUsage().arrayBuffers;
}

describe('LSM store memory', () => {
  it('holds no more memory than its stats report after memtables were flushed and the log moved on', async () => {
    const dir = tempDir(after);
    // No idle compaction (5 s after the last write by default) while the memory is read below.
    const opts = {
      memtableBytes: 4 * MiB,
      ringBytes: MiB,
      maxRuns: 8,
      walSegmentBytes: 64 * MiB,
      idleCompactMs: 60_000,
    };
    // A first life leaves a WAL to replay, so the reopened store starts from a replayed memtable.
    const first = await openTestLsm(dir, opts);
    for (let i = 0; i < 4; i++) await first.put(Buffer.from(`k${i}`), valueBytes(256 * 1024, i));
    await first.close();

    const before = await heldArrayBuffers();
    const s = await openTestLsm(dir, opts);
    // 96 overwrites of 256 KiB: six memtable flushes, and ~90 batches pushed out of a 1 MiB log tail.
    for (let i = 0; i < 96; i++) await s.put(Buffer.from(`k${i % 16}`), valueBytes(256 * 1024, i));
    await s.idle();
    // The commit log fills its spare segment (64 MiB) in the background after idle(), 1 MiB of
    // zeros per write and sync through the thread pool, each chunk held while in flight: on a
    // loaded machine, with slow syncs, for seconds. So the memory is read until it is within the
    // report, for up to 30 s (a quiet run is within at once); a leak stays above.
    const deadline = Date.now() + 30_000;
    let held = (await heldArrayBuffers()) - before;
    let st = s.stats();
    while (held > Number(st.memBytes) + 2 * MiB && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      held = (await heldArrayBuffers()) - before;
      st = s.stats();
    }
    const reported = Number(st.memBytes);
    assert.ok(Number(st.flushes) >= 5, `memtables were flushed (${String(st.flushes)})`);
    assert.ok(
      held <= reported + 2 * MiB,
      `the store holds ${(held / MiB).toFixed(1)} MiB of buffers; its stats report ${(reported / MiB).toFixed(1)} MiB (${JSON.stringify(
        Object.fromEntries(Object.entries(st).filter(([k]) => k.startsWith('mem'))),
      )})`,
    );
    await s.close();
  });

  it('serves a lagging replica from WAL segments a window at a time, values up to the maximum included', async () => {
    const dir = tempDir(after);
    // A 4 KiB in-memory tail: every position below is read from the segment files.
    const s = await openTestLsm(dir, { ringBytes: 4096, walSegmentBytes: 3 * MiB, memtableBytes: 64 * MiB });
    const sizes = [0, 10, 300_000, MiB, 5000, MiB - 1, 1, 200_000, 70_000, 3];
    const written: Buffer[] = [];
    for (let i = 0; i < 30; i++) {
      const v = valueBytes(sizes[i % sizes.length]!, i);
      written.push(v);
      await s.put(Buffer.from(`k${i}`), v);
    }
    for (const start of [0, 1, 2, 3, 9, 17, 28]) {
      let pos = start;
      while (pos < 30) {
        const r = s.replication.readLog(pos, 256 * 1024);
        assert.ok(r !== 'gone', `position ${pos} is retained`);
        for (let o = 0; o < r.records.length;) {
          const rec = decodeRecord(r.records, o);
          assert.ok(typeof rec !== 'string', `record after ${pos}: ${typeof rec === 'string' ? rec : ''}`);
          assert.equal(rec.seq, pos + 1);
          assert.ok(rec.value.equals(written[pos]!), `value of seq ${rec.seq}`);
          pos++;
          o += rec.size;
        }
        assert.equal(r.lastSeq, pos);
      }
      assert.ok(Number(s.stats().memReplicationLogBytes) <= 4096 + 2 * MiB, 'the tail holds no segment');
    }
    await s.close();
  });
});
