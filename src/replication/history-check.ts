/**
 * History ids in replication (docs/wal-format.md, "History ids"; src/storage/history-format.ts).
 *
 * (epoch, seq) names a record only within one history of a shard. A leader whose data directory
 * was lost (or a replica whose directory came from another cluster with the same sharding.toml)
 * holds another history that reaches the same (epoch, seq): a replica at (0, 30) of the old one,
 * below what the new leader held at its start (so `restartFork` does not see it), was served 31..40
 * of the new one on top of its own 1..30, served keys its leader never had with lag 0, and lacked
 * acknowledged ones. So every store carries the id of its history, and:
 *   - a leader store whose history begins gets a new random id: when it starts leading (its
 *     worker's start, a promotion) without one (an empty store, or one written before ids). A
 *     promoted replica keeps the id it has: the history goes on, epochs mark its forks within it;
 *   - a pull names the replica's id (`history=`; a pull without it, from an older replica or the
 *     seed's, is not checked). An id other than the leader's at a position above 0 is answered as
 *     a fork at 0 (`historyFork`, the one check: pull-answer.ts over HTTP and for a ring's first
 *     pull, LocalSource on the leader's worker), so the replica saves what it holds to a
 *     divergence file and resyncs, whatever its epoch says;
 *   - a replica adopts its leader's id (`adoptHistory`) from a pull answered with records or
 *     nothing new while it has none or is at seq 0, and from the snapshot it loads (snapshot-load.ts).
 */
import type { StoreReplication } from '../storage/store-replication.js';

/**
 * historyFork is the fork for a replica at `after` whose history id is `replica` pulling from a
 * leader whose id is `leader`: 0 when both are known, differ, and the replica holds records; else
 * undefined (the usual checks apply).
 */
export function historyFork(
  leader: string | undefined,
  replica: string | undefined,
  after: number,
): number | undefined {
  if (leader === undefined || replica === undefined || replica === leader || after <= 0) return undefined;
  return 0;
}

/**
 * adoptHistory gives replica `store` its leader's history id `leader` (from an answered pull whose
 * `after` was `after`) when the replica has none yet or holds nothing; a replica that holds records
 * of another history keeps its id (its leader answers it with a fork: historyFork).
 */
export function adoptHistory(
  store: Pick<StoreReplication, 'history' | 'setHistory'>,
  leader: string | undefined,
  after: number,
): void {
  if (leader === undefined || store.history === leader) return;
  if (store.history === undefined || after === 0) store.setHistory(leader);
}
