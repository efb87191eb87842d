/**
 * A store that holds history the live map says a failover discarded (docs/watch.md, "Resuming").
 *
 * The map names a new epoch as soon as a failover is decided; a replica that copied its old
 * leader's last records (above the new epoch's first seq) keeps them until its new leader tells it
 * DIVERGED and it is rebuilt from that leader's snapshot (docs/failover.md). Read in between, those
 * records would be labelled with the new epoch (a watch names a seq's epoch from the map's
 * history), and once the replica was rebuilt a stream past them would go on after their seqs: it
 * would keep the discarded writes and never see the new epoch's at those seqs. So such a store is
 * not read for a watch until it has been rebuilt: its reads throw UNAVAILABLE, which the feed and
 * a catching-up shard retry (feed.ts, shard-watch.ts), and a snapshot page from it is read again.
 *
 * The store says which history it holds by the epoch of its newest records (its log's epoch,
 * `StoreReplication.epoch`, sent with each `watch-read` and `watch-scan` answer): older than the
 * map's epoch at its last seq means its newest records are not the map's. A store without a log
 * epoch (no replication seam) is not checked; a store whose epoch is newer than the map's (the map
 * here lags) is read, and a stream that passed it is ended when the map catches up (watcher.ts).
 */
import { DistkvError } from '../errors.js';
import type { LogReader } from './feed.js';

/** aheadOfFork tells whether a store whose newest records are in `storeEpoch` and end at `end` holds history the map discarded. */
export function aheadOfFork(
  storeEpoch: number | undefined,
  end: number,
  epochAt: (seq: number) => number,
): boolean {
  return storeEpoch !== undefined && end > 0 && storeEpoch < epochAt(end);
}

/** forkedError is what a read of such a store throws (retried by its caller). */
export function forkedError(shard: number, storeEpoch: number, end: number): DistkvError {
  return new DistkvError(
    'UNAVAILABLE',
    `shard ${shard}'s store here holds epoch ${storeEpoch} up to seq ${end}, history a failover discarded; it is read once it is rebuilt`,
  );
}

/** unforkedReader is `read` that throws forkedError for a store ahead of its fork (aheadOfFork). */
export function unforkedReader(
  read: LogReader,
  shard: number,
  epochOf: (shard: number, seq: number) => number,
): LogReader {
  return async (after, maxBytes, waitMs) => {
    const r = await read(after, maxBytes, waitMs);
    if (aheadOfFork(r.epoch, r.end, (seq) => epochOf(shard, seq))) throw forkedError(shard, r.epoch!, r.end);
    return r;
  };
}
