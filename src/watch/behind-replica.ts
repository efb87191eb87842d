/**
 * A watch resumed at a replica whose log has not reached the cursor yet (docs/watch.md,
 * "Resuming"): the client passed `E.S` elsewhere (at the leader, or at a replica further on), and
 * this replica holds the same history (the map gives `S` the epoch `E`) up to a seq below `S`. It
 * is behind, not on another history: the records up to `S` are on their way, so the shard waits
 * for its log to reach `S` and goes on after it, as if it had held it. A snapshot instead would
 * hand the client the replica's older state (a key going back from the version it saw to an older
 * one) and then the changes it had already had.
 *
 * The wait is one long-poll on the store's worker (`watch-read` after `S - 1`, which the worker
 * answers once the record at `S` is written: store-log.ts `waitForLog`), again after each answer
 * that ends sooner, so nothing spins; the end it compares is the worker's own (the answer's `end`),
 * not the main thread's published view of it, which may lag a pull behind. It is bounded by
 * BEHIND_WAIT_MS: a replica that does not catch up by then (its leader unreachable, the replica
 * held or resyncing) ends the stream with `resume` and REPLICA_BEHIND, naming the shard, the
 * replica's position and the cursor, which the client resumes from at the leader or later.
 *
 * Owned by the main thread, run by the shard's catch-up (shard-watch.ts) before its first read.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DistkvError } from '../errors.js';
import { formatVersion, type Version } from '../routing/version.js';
import type { LogReader } from './feed.js';

/**
 * BEHIND_WAIT_MS bounds how long a replica's shard waits for its log to reach a resumed cursor.
 * A replica that follows catches up within a pull or two (`replication.pull_wait_ms` is 1 s); past
 * a few seconds it is not following, and the client is better served elsewhere. The stream's
 * other shards go on meanwhile; nothing is sent for this one (its cursor stays the client's).
 */
export const BEHIND_WAIT_MS = 5000;

/** RETRY_MS spaces the tries after a read that failed (the store being rebuilt, a worker restart). */
const RETRY_MS = 200;

/** BehindWait is what a shard's wait needs: its log's reader and whether its stream is still open. */
export interface BehindWait {
  read: LogReader;
  isClosed(): boolean;
}

/**
 * awaitLog waits until the store's log holds `seq`, at most `ms`: the worker's last seq when it
 * does, or `{reached: false, end}` with the last end it answered (-1 if none) when the bound
 * passed or the stream closed first.
 */
export async function awaitLog(
  w: BehindWait,
  seq: number,
  ms: number,
): Promise<{ reached: boolean; end: number }> {
  const deadline = performance.now() + ms;
  let end = -1;
  while (!w.isClosed()) {
    const left = Math.ceil(deadline - performance.now());
    if (left <= 0) break;
    try {
      // One byte: the answer's records are not used (the catch-up reads after `seq` next), only
      // whether the record at `seq` exists and the store's end.
      const r = await w.read(seq - 1, 1, left);
      end = r.end;
      if (r.end >= seq || r.lastSeq >= seq) return { reached: true, end: Math.max(r.end, r.lastSeq) };
    } catch {
      await sleep(Math.min(RETRY_MS, left));
    }
  }
  return { reached: false, end };
}

/**
 * behindError is the refusal of a shard whose replica did not reach `cursor` within `ms`: it
 * holds up to `held` (its version as the history gives it), `item` is the shard's cursor item.
 */
export function behindError(shard: number, held: Version, item: string, ms: number): DistkvError {
  return new DistkvError(
    'REPLICA_BEHIND',
    `shard ${shard}'s replica here holds up to ${formatVersion(held)} and did not reach the cursor ${item} within ${ms} ms: resume from it at the shard's leader, or here later`,
  );
}
