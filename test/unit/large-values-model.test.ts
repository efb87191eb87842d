/**
 * Large values keep their bytes whatever path they take: the commit log's batch and the slabs it is
 * carved from (commit-log-batch.ts, slab-pieces.ts), a store's kept copies of its parts
 * (store-log-kept.ts), the memtable's slabs and the buffers of values too large for them
 * (memtable.ts), flushed runs and LMDB. A seeded model test: turns of concurrent PUTs and DELETEs
 * over a few keys, value sizes drawn around every boundary those paths have (1, the kept slab's
 * quarter, 64 KiB, a memtable slab's quarter, 256 KiB, 1 MiB - 1, 1 MiB) and in between, on a
 * leader and its replica on one commit log; the leader's recent log, reads from memtables, flushed
 * runs and LMDB after compactions, and both stores reopened, must give every key its last value,
 * byte for byte. A failure prints its seed (DISTKV_SEED replays it). (Written by session 40's
 * large-PUT work, whose views of large parts were not kept: docs/performance.md, "Large PUTs".)
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { SLAB_BYTES } from '../../src/storage/memtable-arena.js';
import { KEPT_SLAB_BYTES } from '../../src/storage/store-log-kept.js';
import { decodeRecord } from '../../src/storage/wal-format.js';
import { ReplicaPair } from '../helpers/replica-pair.js';
import { tempDir } from '../helpers/temp-dir.js';

const MIB = 1024 * 1024;
/** LARGE_PART_BYTES is 256 KiB: the size above which a memtable gives a value a buffer of its own. */
const LARGE_PART_BYTES = 256 * 1024;
const EDGES = [
  1,
  KEPT_SLAB_BYTES / 4 - 1,
  KEPT_SLAB_BYTES / 4 + 1,
  64 * 1024,
  SLAB_BYTES / 4,
  SLAB_BYTES / 4 + 1,
  LARGE_PART_BYTES - 40,
  LARGE_PART_BYTES + 1,
  MIB - 1,
  MIB,
];
const KEYS = 6;

/** rng is a seeded xorshift32 generator of numbers in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

/** valueOf is `size` bytes that differ from write to write (the write's number and position in it). */
function valueOf(n: number, size: number): Buffer {
  const v = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 4096) v[i] = (n * 31 + i / 4096) & 0xff;
  v.fill(n & 0xff, 1, Math.min(size, 4096));
  v[size - 1] = (n * 7) & 0xff;
  return v;
}

/** check asserts that `store` gives every key of `model` its value (undefined: none). */
function check(store: LsmStore, model: Map<string, Buffer | undefined>, what: string): void {
  for (const [k, want] of model) {
    const got = store.get(Buffer.from(k));
    if (want === undefined) assert.equal(got, undefined, `${what}: ${k} is deleted`);
    else {
      assert.ok(got !== undefined, `${what}: ${k} has its value`);
      assert.equal(got.length, want.length, `${what}: ${k}'s length`);
      assert.ok(Buffer.from(got).equals(want), `${what}: ${k}'s ${want.length} bytes`);
    }
  }
}

describe('large values on a leader and its mirrored replica', () => {
  it('keep their bytes through the recent log, flushes, compactions and a reopen, at every size boundary', async () => {
    const seed = Number(process.env.DISTKV_SEED ?? Date.now() % 1e9);
    const dir = tempDir(after);
    const opts = { sharedLog: true, memtableBytes: 6 * MIB, maxRuns: 2 };
    let pair = await ReplicaPair.open(dir, opts);
    const random = rng(seed);
    const model = new Map<string, Buffer | undefined>();
    /** written is every record's (seq, key, value) in seq order, for the recent log's check. */
    const written = new Map<number, { key: string; value: Buffer | undefined }>();
    let n = 0;
    try {
      for (let turn = 0; turn < 24; turn++) {
        const writes: Promise<void>[] = [];
        // One turn: 1-4 writes of the leader in one batch; sizes mixed, one part holding several.
        const count = 1 + Math.floor(random() * 4);
        for (let i = 0; i < count; i++, n++) {
          const key = `k${Math.floor(random() * KEYS)}`;
          const r = random();
          const size = r < 0.6 ? EDGES[Math.floor(random() * EDGES.length)]! : 1 + Math.floor(random() * MIB);
          const value = r > 0.95 ? undefined : valueOf(n, size);
          model.set(key, value);
          const k = Buffer.from(key);
          writes.push(
            (value === undefined ? pair.leader.delete(k) : pair.leader.put(k, value)).then(({ seq }) => {
              written.set(seq, { key, value });
            }),
          );
        }
        await Promise.all(writes);
        await pair.caughtUp();
        check(pair.leader, model, `seed ${seed} turn ${turn} leader`);
        check(pair.replica, model, `seed ${seed} turn ${turn} replica`);
        if (turn % 8 === 7) {
          await pair.leader.flush();
          await pair.replica.flush();
          await pair.leader.idle();
          await pair.replica.idle();
          check(pair.leader, model, `seed ${seed} turn ${turn} leader flushed`);
          check(pair.replica, model, `seed ${seed} turn ${turn} replica flushed`);
        }
      }
      // The leader's recent log (its newest batches are kept in memory, as views of large parts):
      // what it still holds of the last writes is what was written. Older records may be gone
      // (a flush lets the commit log drop them; the tail keeps about ring_bytes).
      const last = pair.leader.lastSeq();
      let checked = 0;
      for (let from = Math.max(0, last - 4); from < last; from++) {
        const r = pair.leader.replication.readLog(from, 1);
        if (r === 'gone') continue;
        for (let at = 0; at < r.records.length;) {
          const rec = decodeRecord(r.records, at);
          assert.ok(typeof rec !== 'string', typeof rec === 'string' ? `seed ${seed}: ${rec}` : '');
          const w = written.get(rec.seq);
          assert.ok(w !== undefined, `seed ${seed}: seq ${rec.seq} was written`);
          assert.equal(rec.key.toString(), w.key);
          if (w.value !== undefined)
            assert.ok(rec.value.equals(w.value), `seed ${seed}: seq ${rec.seq}'s value in the recent log`);
          at += rec.size;
          checked++;
        }
      }
      assert.ok(checked > 0, `seed ${seed}: the leader's last batch is in its recent log`);
      await pair.close();
      pair = await ReplicaPair.open(dir, opts);
      await pair.caughtUp();
      check(pair.leader, model, `seed ${seed} leader reopened`);
      check(pair.replica, model, `seed ${seed} replica reopened`);
    } catch (err) {
      console.log(`large-values-model: seed ${seed} (DISTKV_SEED=${seed} replays it)`);
      throw err;
    } finally {
      await pair.close();
    }
  });
});
