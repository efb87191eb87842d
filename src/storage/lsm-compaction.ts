/**
 * Compaction: merge every input run newest-wins into the LMDB level.
 *
 * The merged stream is written in transactions of CHUNK_ENTRIES keys (values put with their seq
 * and expiry; tombstones removed); the last one also records `applied_seq` = the newest seq of
 * the inputs and is waited on until it is synced (LMDB syncs commits in order, so the earlier ones
 * are durable by then).
 * Until that last commit, the input runs stay in place and keep shadowing LMDB, so readers never
 * see a half-compacted state, and a crash mid-way only redoes the same idempotent writes; then
 * they are retired (`retireRuns`: closed, deleted, the directory synced; a file it cannot delete
 * is left for the next open). Between
 * chunks the worker's event loop runs (each commit is awaited), so foreground reads and writes go on.
 *
 * An expired value is kept, expiry and all, until a newer record of its key (the leader's expire
 * record, TYPE_EXPIRE, a tombstone) reaches compaction with it: reads hide it by the clock anyway,
 * but the leader's reaper logs that record only while the key still holds the expiring write
 * (src/worker/expiry-records.ts), and a store that becomes a leader finds what to expire by listing
 * it (src/worker/expiry-scan.ts). Dropping it first would lose the expire event for good.
 */
import type { LevelWrite, LmdbLevel } from './lmdb-level.js';
import type { LsmCounters } from './lsm-stats.js';
import { mergeNewest } from './merge-iterator.js';
import type { RunReader } from './sstable-reader.js';
import type { Vfs } from './vfs.js';

/** CHUNK_ENTRIES is the number of keys per compaction transaction. */
export const CHUNK_ENTRIES = 500;
/** CHUNK_BYTES ends a transaction early: 500 values of up to 1 MiB held at once were half a gigabyte. */
export const CHUNK_BYTES = 4 * 1024 * 1024;

/** compactRuns merges `inputs` (newest first) into `level`; resolves once applied_seq is durable. */
export async function compactRuns(level: LmdbLevel, inputs: readonly RunReader[]): Promise<void> {
  // A loop, not Math.max(...): spreading ~10^5 arguments overflows the stack.
  let appliedSeq = 0;
  for (const r of inputs) appliedSeq = Math.max(appliedSeq, r.footer.maxSeq);
  const merged = mergeNewest(inputs.map((r) => r.entries(undefined, false)));
  let chunk: LevelWrite[] = [];
  let chunkBytes = 0;
  for (const [key, v] of merged) {
    chunk.push({
      key: Buffer.from(key, 'latin1'),
      value: v.value,
      seq: v.seq,
      expiresAtMs: v.expiresAtMs ?? 0,
    });
    chunkBytes += key.length + (v.value?.length ?? 0);
    if (chunk.length >= CHUNK_ENTRIES || chunkBytes >= CHUNK_BYTES) {
      await level.apply(chunk);
      chunk = [];
      chunkBytes = 0;
      // Let queued foreground work (reads, WAL completions) run between chunks.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  await level.apply(chunk, appliedSeq);
}

/**
 * retireRuns closes and deletes compacted runs `inputs` in `runsDir`, keeping their bloom counts in
 * `counters`. Their data is durable in LMDB by now, so a failure here loses nothing: every input is
 * closed whatever fails (no fd leaks), each failure is counted in `counters.retireFailures`, and the
 * files it could not delete stay until the next open deletes them (at or below applied_seq:
 * lsm-recovery.ts). Returns the first error, for the caller to log, or undefined.
 */
export function retireRuns(
  vfs: Vfs,
  runsDir: string,
  inputs: readonly RunReader[],
  counters: LsmCounters,
): Error | undefined {
  let first: Error | undefined;
  const attempt = (step: () => void): void => {
    try {
      step();
    } catch (err) {
      counters.retireFailures++;
      first ??= err as Error;
    }
  };
  for (const r of inputs) {
    counters.retiredBloomChecks += r.bloomChecks;
    counters.retiredBloomNegatives += r.bloomNegatives;
    counters.retiredBloomFalsePositives += r.bloomFalsePositives;
    attempt(() => {
      r.close();
    });
  }
  for (const r of inputs)
    attempt(() => {
      vfs.unlink(r.path);
    });
  attempt(() => {
    vfs.syncDir(runsDir);
  });
  return first;
}
