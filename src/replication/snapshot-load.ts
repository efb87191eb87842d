/**
 * Loading a leader snapshot into a replica store (follower.ts, its resync; docs/architecture.md,
 * "Resync"), with the resync marker (resync-marker.ts) kept in step:
 *   1. the marker says `loading`, durably, before the rebuild wipes the store (the wipe spares it):
 *      a replica that stops from here on resyncs again when it starts, never serving or extending
 *      the part it holds under a seq that does not describe it;
 *   2. the entries go straight into the fresh store (one chunk written while the next is read),
 *      then `finishSnapshot` sets its seq;
 *      Entries whose key is outside the shard's slots (`snapshot.slots`: a broken or hostile
 *      leader, or one whose config gives the shard other slots) are skipped, counted and logged
 *      once per load naming the leader: loaded, they were not served (reads route by slot) but
 *      counted in DBSIZE and INFO, and once this replica was promoted, sent on in its snapshots
 *      to its own replicas and to backups;
 *   3. the store takes the leader's history id (history-check.ts), durably, then the marker says
 *      `exactSeq` (and the snapshot seq with the leader's epoch there), durably, before the store
 *      is reopened to serve and log from the snapshot seq on (a stop before the marker: the load
 *      is done again).
 */
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { DistkvError } from '../errors.js';
import { slotOfBytes } from '../routing/slot.js';
import type { StoreReplication } from '../storage/store-replication.js';
import { writeDurableJson } from './durable-json.js';
import type { SnapshotStream } from './source.js';

/** SnapshotTarget is the replica store a snapshot goes into (FollowerOptions' rebuild, reopen and resyncMarker). */
export interface SnapshotTarget {
  rebuild: () => Promise<StoreReplication>;
  reopen: () => Promise<StoreReplication>;
  resyncMarker?: string;
  /**
   * stopped says the follower stopped: the load ends at the next chunk (throwing), the half-loaded
   * store left for the next rebuild. A snapshot read on the leader's worker (LocalSource) does not
   * end when its source closes: a promotion's hold waited for the whole load.
   */
  stopped: () => boolean;
  /** source names the leader in the log line of the entries skipped (its `describe`). */
  source?: { readonly describe: string };
  log?: Logger;
}

/** LoadedSnapshot is a replica rebuilt from a snapshot. */
export interface LoadedSnapshot {
  /** store is the reopened replica store, its epoch the leader's at the snapshot seq when it said. */
  store: StoreReplication;
  /** exactSeq is the seq from which the replica's content is exact (snapshot-format.ts). */
  exactSeq: number;
  /** loaded is the snapshot seq and the leader's epoch there (undefined when the leader sent none). */
  loaded: { seq: number; epoch: number } | undefined;
  keys: number;
  /** outside is how many entries were skipped: their keys are outside the shard's slots. */
  outside: number;
}

/** loadSnapshot rebuilds the replica store of `to` from `snapshot` (see above). */
export async function loadSnapshot(snapshot: SnapshotStream, to: SnapshotTarget): Promise<LoadedSnapshot> {
  // The marker goes down before the wipe: a replica that stops between the wipe and the load
  // would otherwise open without it, as whatever its log still held of it (in a shared commit
  // log, its newest records over an emptied directory) under its old seq, and serve that.
  const marker = to.resyncMarker;
  let fresh: StoreReplication;
  try {
    checkRunning(to);
    if (marker !== undefined) writeDurableJson(marker, { loading: true });
    fresh = await to.rebuild();
    if (marker !== undefined && !existsSync(marker)) writeDurableJson(marker, { loading: true });
  } catch (err) {
    // The stream is let go unread: a leader's body held its connection to the leader for good.
    await snapshot.chunks[Symbol.asyncIterator]().return?.();
    throw err;
  }
  let keys = 0;
  let outside = 0;
  let example: Uint8Array | undefined;
  const slots = snapshot.slots;
  // One chunk is written while the next one is read. Its write's failure is caught at once and
  // thrown at the next await of it (`written`): left unhandled until the next chunk came, a
  // failed write (ENOSPC) was an unhandled rejection, which ends a shard worker's thread
  // (workers/shard-worker.ts lets only lmdb-js's "Commit failed" through).
  //
  // No way out of the load leaves that write running: a stream that fails while it is in flight
  // (the leader's body cut) throws only once it has settled, its outcome dropped (the stream's
  // error is the news). Thrown at once, the follower's next attempt rebuilt the same store (it
  // clears and refills it) under the write still going into it.
  let writing: Promise<WriteOutcome> = Promise.resolve(undefined);
  try {
    for await (const chunk of snapshot.chunks) {
      const ours =
        slots === undefined
          ? chunk
          : chunk.filter((e) => {
              const slot = slotOfBytes(e.key);
              if (slot >= slots.first && slot <= slots.last) return true;
              outside++;
              example ??= e.key;
              return false;
            });
      written(await writing);
      checkRunning(to);
      if (ours.length > 0) writing = caught(fresh.loadSnapshotChunk(ours, snapshot.seq));
      keys += ours.length;
    }
  } catch (err) {
    await writing;
    throw err;
  }
  written(await writing);
  if (outside > 0 && slots !== undefined)
    to.log?.warn(
      { source: to.source?.describe, outside, first: slots.first, last: slots.last },
      `the snapshot from ${to.source?.describe ?? 'the leader'} held ${outside} entries outside the shard's slots ${slots.first}-${slots.last} (the first: key ${JSON.stringify(example === undefined ? '' : Buffer.from(example).toString('utf8').slice(0, 100))}, slot ${example === undefined ? '?' : slotOfBytes(example)}); they were not loaded. A leader sends only its shard's keys: check that it routes with this node's sharding.toml (GET /cluster on it)`,
    );
  await fresh.finishSnapshot(snapshot.seq);
  if (snapshot.history !== undefined) fresh.setHistory(snapshot.history);
  const exactSeq = Math.max(snapshot.seq, snapshot.exactSeq());
  // The reopened store holds no record at the snapshot seq: without the leader's word, its epoch
  // there came from the replica's own map, which may not have the leader's newer epoch yet. Its
  // next pull was then told it forked below that seq, and saving the records above the fork
  // failed (they came from the snapshot, not its log), again at every retry. The marker keeps
  // it, so a replica restarted before it logs a record reads it back (setReplicaEpoch).
  const loaded = snapshot.epoch === undefined ? undefined : { seq: snapshot.seq, epoch: snapshot.epoch };
  if (marker !== undefined) writeDurableJson(marker, { exactSeq, ...loaded });
  const store = await to.reopen();
  if (snapshot.epoch !== undefined) store.epoch = snapshot.epoch;
  return { store, exactSeq, loaded, keys, outside };
}

/** WriteOutcome is how a chunk's write ended: undefined, written; else the error it failed with. */
type WriteOutcome = { failed: unknown } | undefined;

/** caught handles `write`'s rejection at once: it resolves to the write's outcome, never rejects. */
function caught(write: Promise<void>): Promise<WriteOutcome> {
  return write.then(
    () => undefined,
    (err: unknown) => ({ failed: err }),
  );
}

/** written throws the error of a chunk's write that failed. */
function written(outcome: WriteOutcome): void {
  if (outcome !== undefined) throw outcome.failed;
}

/** checkRunning throws when the follower of `to` stopped. */
function checkRunning(to: SnapshotTarget): void {
  if (to.stopped())
    throw new DistkvError('UNAVAILABLE', 'the replica stopped following in the middle of a snapshot load');
}
