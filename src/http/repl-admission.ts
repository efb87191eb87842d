/**
 * ReplAdmission: how much replication work one node lets its clients start on the shard workers
 * (docs/api.md, "Internal endpoints"; docs/operations.md, "Replication load a node takes").
 *
 * A snapshot page and a pull answer are built on the worker that owns the leader store, in the same
 * queue as that store's writes. Unbounded, a few hundred cheap requests whose answers are never read
 * (100 snapshot streams and 100 pulls of 64 MiB over 20 MB of log) queued gigabytes of page and log
 * copies ahead of the writes, and held PUTs for 14-21 s (test/e2e/unread-replication-streams.test.ts).
 * So, per node (one front door listener):
 *  - at most SNAPSHOT_STREAMS_PER_STORE snapshot streams of one store run at once; each holds its
 *    slot until it ends, fails or its client goes (an unread one: until the idle sweep closes it);
 *  - the pulls being answered by one worker are granted at most PULL_BYTES_PER_WORKER between them:
 *    a pull asks `max_bytes`, and is granted what is left of the bound, up to its ask, from its
 *    dispatch until the worker's answer arrives. A pull at or past the leader's last seq, which parks
 *    until a write, is not counted (repl-routes.ts: counted, two of them held the bound for their
 *    whole wait and real replicas' pulls were refused). A pull
 *    granted less than it asked is answered with less (a replica pulls again); one granted less than
 *    PULL_MIN_GRANT_BYTES (or its ask, when smaller) is refused.
 * Past a bound the request is refused 503 REPLICATION_BUSY with `Retry-After: 1`, before any work:
 * a replica retries after its backoff (follower.ts: a refused snapshot before it wipes anything),
 * `distkv backup` after its wait for a moving leader (leader-wait.ts).
 *
 * What an answer holds once built and unsent is bounded by `server.max_unsent_bytes`
 * (src/server/unsent-budget.ts); a snapshot stream builds its next page only once the last one
 * went out (snapshot-route.ts).
 *
 * State is owned by the main thread (one instance per listener, made by repl-routes.ts).
 */
import { DistkvError } from '../errors.js';

/** SNAPSHOT_STREAMS_PER_STORE is how many snapshot streams of one store a node serves at once. */
export const SNAPSHOT_STREAMS_PER_STORE = 4;
/** PULL_BYTES_PER_WORKER bounds the bytes granted to the pulls one worker is answering at once (2 × the largest answer). */
export const PULL_BYTES_PER_WORKER = 128 * 1024 * 1024;
/** PULL_MIN_GRANT_BYTES is the least a pull is granted rather than refused (the default `pull_max_bytes`). */
export const PULL_MIN_GRANT_BYTES = 1024 * 1024;

/** RETRY_AFTER is the header of a REPLICATION_BUSY refusal: nothing was done, ask again shortly. */
export const RETRY_AFTER = { headers: { 'Retry-After': '1' } } as const;

/** PullGrant is what a pull may read (`bytes`) and the call that gives it back (idempotent). */
export interface PullGrant {
  bytes: number;
  release(): void;
}

/** nothingHeld is the release of a grant that counted nothing (`parked`): one function for every parked pull. */
function nothingHeld(): void {
  // nothing to give back
}

/** ReplAdmission counts one node's snapshot streams per store and pull grants per worker. */
export class ReplAdmission {
  private readonly streams = new Map<number, number>();
  private readonly granted = new Map<number, number>();

  /**
   * snapshot takes a stream slot of `store` and returns its release (idempotent), or throws
   * REPLICATION_BUSY naming the bound when the store has none left.
   */
  snapshot(store: number, shard: number): () => void {
    const open = this.streams.get(store) ?? 0;
    if (open >= SNAPSHOT_STREAMS_PER_STORE)
      throw new DistkvError(
        'REPLICATION_BUSY',
        `shard ${shard} already has ${open} snapshot streams open at this node (the most it serves at once is ${SNAPSHOT_STREAMS_PER_STORE}); retry after Retry-After`,
      );
    this.streams.set(store, open + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const left = (this.streams.get(store) ?? 1) - 1;
      if (left <= 0) this.streams.delete(store);
      else this.streams.set(store, left);
    };
  }

  /** parked grants a pull that parks at the leader's end its whole ask, uncounted (repl-routes.ts). */
  parked(ask: number): PullGrant {
    return { bytes: ask, release: nothingHeld };
  }

  /**
   * pull grants a pull on `worker` asking `ask` bytes what is left of PULL_BYTES_PER_WORKER, up to
   * its ask, or throws REPLICATION_BUSY when that is below PULL_MIN_GRANT_BYTES and below its ask.
   */
  pull(worker: number, ask: number, shard: number): PullGrant {
    const used = this.granted.get(worker) ?? 0;
    const bytes = Math.min(ask, PULL_BYTES_PER_WORKER - used);
    if (bytes < Math.min(ask, PULL_MIN_GRANT_BYTES))
      throw new DistkvError(
        'REPLICATION_BUSY',
        `the worker of shard ${shard} is answering pulls of ${used} bytes at this node (the most it answers at once is ${PULL_BYTES_PER_WORKER}); retry after Retry-After`,
      );
    this.granted.set(worker, used + bytes);
    let held = true;
    return {
      bytes,
      release: () => {
        if (!held) return;
        held = false;
        const left = (this.granted.get(worker) ?? bytes) - bytes;
        if (left <= 0) this.granted.delete(worker);
        else this.granted.set(worker, left);
      },
    };
  }
}
