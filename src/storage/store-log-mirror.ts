/**
 * Mirroring (StoreLog.mirrorTo): a replica of a store whose log is in the same commit log (a
 * replica on the leader's worker) can be fed every part the store hands to a batch, in that same
 * batch: the replica's frame holds the same bytes, one fdatasync makes both durable, and the
 * replica applies and acknowledges its part as the batch settles — no pull, no second batch, no
 * second sync, no wake-up (docs/commit-log-format.md, "Mirrored replicas"). Each record's key is
 * hashed once, when appended: the replica files its copy under the same hash (key-origin.ts).
 *
 * MirrorFeed is the leader's side: the one replica it feeds, the hand-over of each part the commit
 * log takes, and the end of the feed, told to the replica once. The replica's side is
 * StoreLog.appendMirrored; when a feed may start is StoreLog.mirrorTo. Used only on the worker's
 * thread.
 */
import type { Pending } from './commit-log-member.js';
import type { StoreLog } from './store-log.js';
import type { MirroredApply, Waiter } from './store-log-waiter.js';

/**
 * LogMirror is a replica fed by its leader's StoreLog (`mirrorTo`): each part the commit log takes
 * from the leader is appended to `log`, the replica's part of the same commit log, for the same
 * batch; once it is written `apply` gets it. The mirror ends (`ended`, once) at the first part
 * the replica cannot take in order or at once (`accepting` false), when a batch fails, or when the
 * leader's log closes; the replica then pulls from its ack as any replica does.
 */
export interface LogMirror {
  /** log is the replica's part of the commit log. */
  readonly log: StoreLog;
  /** accepting says the replica can take records now without waiting (open, no write stall). */
  accepting(): boolean;
  /**
   * apply puts the replica's records `first`..`last`, found in `records`, into its store once
   * written; `origins` are the leader's waiters of the part (key-origin.ts), whose key hashes it may reuse.
   */
  readonly apply: MirroredApply;
  /** ended: nothing more is fed. */
  ended(): void;
}

/** MirrorFeed is a leader log's feed of its mirror, if it has one (see above). */
export class MirrorFeed {
  private mirror: LogMirror | undefined;

  /** active says a replica is being fed. */
  get active(): boolean {
    return this.mirror !== undefined;
  }

  /** start feeds `m` from the next part on (StoreLog.mirrorTo checked that it may). */
  start(m: LogMirror): void {
    this.mirror = m;
  }

  /**
   * feed appends the leader's `part`, with `origins` (the leader's waiters of it), to the replica's
   * log for the same batch; a replica that cannot take it now, or whose log does not take it, ends the feed.
   */
  feed(part: Pending, origins: readonly Waiter[]): void {
    const m = this.mirror;
    if (m !== undefined && !(m.accepting() && m.log.appendMirrored(part, m.apply, origins))) this.end();
  }

  /** end ends the feed, if any, and tells its replica. */
  end(): void {
    const m = this.mirror;
    this.mirror = undefined;
    m?.ended();
  }

  /** unmirror ends the feed if it is `m`'s. */
  unmirror(m: LogMirror): void {
    if (this.mirror === m) this.end();
  }
}
