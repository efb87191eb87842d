/**
 * Start progress: how far a starting node's workers have replayed their commit logs, summed for
 * the node (the workers replay side by side, each its own log: src/storage/replay-progress.ts).
 * Answered while the node starts in GET /cluster (`starting`, src/http/admin-routes.ts) and in
 * RESP INFO's persistence section (`loading_*`, src/resp/commands-info.ts); once it serves, GET
 * /stats says what its start replayed (`node.replay`).
 *
 * The time left is the longest of the workers' (each from its measured rate), and only when every
 * worker has one: a worker that has not begun its replay, or has replayed for less than
 * ETA_AFTER_MS, leaves the node without a figure it can stand behind. Once every replay is done
 * the node has none either: what is left (the stores attaching, the peer round, etcd) is not
 * measured, and a `0` would be a promise (ioredis asks again at once on one: docs/resp.md).
 */
import type { ReplayReport } from '../storage/replay-progress.js';

/** ReplayProgressOfNode is a starting node's commit log replay, over all its workers. */
export interface ReplayProgressOfNode {
  /** totalBytes sums the logs to replay of the workers that have reported; loadedBytes what they read. */
  totalBytes: number;
  loadedBytes: number;
  /** percent is loadedBytes of totalBytes (100 once every worker is done, 0 before any reported). */
  percent: number;
  /** elapsedMs is the longest time a worker has replayed (the replay's duration once all are done). */
  elapsedMs: number;
  /** etaSeconds is the time left to replay (see the module comment); absent without a figure. */
  etaSeconds?: number;
  /** workers counts the node's workers; reported those that began their replay; done those that finished it. */
  workers: number;
  reported: number;
  done: number;
}

/** replayProgressOf sums the workers' last reports (undefined: none yet) into the node's. */
export function replayProgressOf(reports: readonly (ReplayReport | undefined)[]): ReplayProgressOfNode {
  let totalBytes = 0;
  let loadedBytes = 0;
  let reported = 0;
  let done = 0;
  let elapsedMs = 0;
  let eta: number | undefined = 0;
  for (const r of reports) {
    if (r === undefined) {
      eta = undefined;
      continue;
    }
    reported++;
    totalBytes += r.totalBytes;
    loadedBytes += r.bytes;
    elapsedMs = Math.max(elapsedMs, r.elapsedMs);
    if (r.done) done++;
    else if (r.etaSeconds === undefined) eta = undefined;
    else if (eta !== undefined) eta = Math.max(eta, r.etaSeconds);
  }
  const all = reports.length;
  const percent = done === all ? 100 : totalBytes === 0 ? 0 : Math.min(100, (100 * loadedBytes) / totalBytes);
  return {
    totalBytes,
    loadedBytes,
    percent,
    elapsedMs,
    ...(eta === undefined || eta === 0 || done === all ? {} : { etaSeconds: eta }),
    workers: all,
    reported,
    done,
  };
}
