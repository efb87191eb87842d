/**
 * The stats round the RESP commands that report on the stores make (INFO, DBSIZE, CLUSTER SHARDS):
 * one `stats` call to every worker, bounded by STATS_WAIT_MS. A worker that is restarting rejects
 * the call at once; one that is alive but silent (its thread busy in a long synchronous step)
 * would otherwise hold the command, and every reply pipelined after it on the connection, for as
 * long as it stays silent. The call itself goes on; its late answer is dropped.
 *
 * Two ways to end a round a worker did not answer:
 *  - statsWithin fails the whole round: for the figures that must be totals (DBSIZE's count,
 *    INFO's `keys`), which a missing worker would make a smaller number that looks exact; the
 *    command answers -TRYAGAIN;
 *  - answeredStats keeps the workers that answered: for figures each of which stands alone
 *    (CLUSTER SHARDS's offsets, one per store), where a silent worker's stores lose their own
 *    figures and nobody else's. It dropped every worker's figures with one worker's silence.
 */
import { within } from '../util/within.js';
import type { FromWorker, StoreStatsReport } from '../worker/messages.js';
import type { RespConnection } from './resp-connection.js';

/**
 * STATS_WAIT_MS bounds how long a RESP command waits for the workers' stats: long enough that a
 * worker merely slowed (a loaded machine, a compaction's synchronous step) still answers, so INFO
 * and DBSIZE do not answer TRYAGAIN to a healthy node.
 */
export const STATS_WAIT_MS = 3000;

/**
 * statsWithin resolves with this process's stores' stats, or fails once a worker rejected the
 * call or STATS_WAIT_MS passed first.
 */
export function statsWithin(c: RespConnection): Promise<StoreStatsReport[]> {
  return within("the workers' stats", STATS_WAIT_MS, c.ctx.pool.callAll({ type: 'stats' })).then(storeStats);
}

/**
 * answeredStats resolves with the stats of the stores of the workers that answered within
 * STATS_WAIT_MS, each worker's call bounded on its own (a worker restarting, or silent, adds none).
 */
export async function answeredStats(c: RespConnection): Promise<StoreStatsReport[]> {
  const { pool } = c.ctx;
  const calls = Array.from({ length: pool.size }, (_, w) =>
    within(`worker ${w}'s stats`, STATS_WAIT_MS, pool.call(w, { type: 'stats' })),
  );
  const settled = await Promise.allSettled(calls);
  return storeStats(settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])));
}

/** storeStats are the stores' entries of a stats round's results. */
export function storeStats(results: readonly FromWorker[]): StoreStatsReport[] {
  return results.flatMap((r) => (r.type === 'stats-result' ? r.stores : []));
}
