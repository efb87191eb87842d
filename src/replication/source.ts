/**
 * The replication transport seam: how a replica reads its leader's log. A replica asks for
 * "everything after my ack" (`pull`), and when that is older than the leader keeps, for a snapshot.
 *
 * Implementations: LocalSource (leader store on the same worker: a direct call, or a direct feed
 * when both stores share the worker's commit log), HttpSource
 * (leader in another process, or on another worker of this one: `/_repl/pull` and
 * `/_repl/snapshot` over HTTP).
 */
import type { Feed, SnapshotEntry, StoreReplication } from '../storage/store-replication.js';
import type { LadderEntry } from './record-ladder.js';

/** Pulled is one batch of the leader's log. */
export interface Pulled {
  /** records in WAL record framing (empty when nothing new arrived within the wait). */
  records: Buffer;
  /** leaderSeq is the leader's last seq when it answered. */
  leaderSeq: number;
  /** epoch is the leader's epoch when it answered (absent: a source that does not know it). */
  epoch?: number;
  /** recordsEpoch is the epoch of the leader that wrote `records` (a batch never spans two). */
  recordsEpoch?: number;
  /** history is the leader's history id (history-check.ts; absent: a leader without one, or a ring batch). */
  history?: string;
  /**
   * checked says this process already verified the records' checksums (read from a log on this
   * thread: replication-log.ts), so the replica need not compute them again.
   */
  checked?: boolean;
  /**
   * closing says the leader closes the connection after this answer (its process is stopping): the
   * next pull may reach another run of it, so it is checked as a first pull (record-ladder.ts).
   */
  closing?: boolean;
}

/** Diverged says the replica's (epoch, seq) is not on the leader's history: its records above `fork` are not the leader's. */
export interface Diverged {
  fork: number;
  /**
   * epoch is the leader's epoch when it answered: the epoch that forked, whose leader never had the
   * replica's records above `fork` (it names the divergence file). Absent: a source that does not
   * know it (a leader that did not say).
   */
  epoch?: number;
}

/** PullResult is what a pull answers. */
export type PullResult = Pulled | 'gone' | 'diverged' | Diverged;

/** SnapshotStream is a leader snapshot: its seq and its entries in chunks (fuzzy: snapshot-format.ts). */
export interface SnapshotStream {
  seq: number;
  /**
   * epoch is the epoch of the leader's record at `seq` (absent: a leader that does not say). A
   * replica rebuilt from the snapshot holds no record of its own at `seq`: its next pull names this
   * epoch, not the one its own (possibly lagging) map gives that seq.
   */
  epoch?: number;
  /** history is the leader's history id, which the replica rebuilt from the snapshot takes (absent: none). */
  history?: string;
  chunks: AsyncIterable<SnapshotEntry[]>;
  /**
   * slots are the shard's slots as this replica's config gives them, when the source knows them:
   * an entry whose key is outside them is not the shard's (a broken or hostile leader) and is not
   * loaded (snapshot-load.ts). Absent: every entry is loaded.
   */
  slots?: { first: number; last: number };
  /** exactSeq, once `chunks` is exhausted, is the seq from which the snapshot plus the log is exact. */
  exactSeq: () => number;
}

/**
 * FollowRequest asks a source to feed `replica`, whose ack is `after` in `epoch`: it starts only
 * if the replica is exactly where the leader's written log ends, on its history, and the leader's
 * epoch is not older than `known`. `fed` gets the replica's ack and the leader's last seq after
 * every fed batch and every `waitMs` while none comes (the leader's word, as an empty pull's).
 */
export interface FollowRequest {
  replica: StoreReplication;
  after: number;
  epoch: number;
  known: number;
  waitMs: number;
  fed: (ack: number, leaderSeq: number) => void;
}

/**
 * OnPullRefused hears each pull a leader's node (`leader`, "host:port") refused with an error
 * (its code), but for the protocol's own answers (REPLICA_AHEAD, DIVERGED): a shard worker tells
 * the main thread (`pull-refused`, src/worker/messages.ts), whose peer check asks a leader that
 * refused with CONFIG_MISMATCH for its config at once (PeerCheck.refusedBy).
 */
export type OnPullRefused = (leader: string, code: string) => void;

/**
 * RingCounters are what a ring replica's source counts (RingSource): `ringBatches`, the leader's
 * batches it took from the ring; `fallbackPulls`, the pulls the ring could not answer, sent to the
 * leader's log over HTTP (the first after a start or a leader worker's restart, then a lapped ring
 * or a batch larger than it). They start from zero with each follower.
 */
export interface RingCounters {
  ringBatches: number;
  fallbackPulls: number;
}

/** PullOptions are what a pull says of the replica's records beyond its position; each absent is not checked. */
export interface PullOptions {
  /** epoch is the epoch of the replica's record at `after` (src/replication/epochs.ts); absent: 0. */
  epoch?: number;
  /** history is the replica's history id: one other than the leader's at an `after` above 0 is a fork at 0 (history-check.ts). */
  history?: string;
  /** ladder is the crcs of some of the replica's records at and below `after`, sent on its first pull after a (re)connect (record-ladder.ts). */
  ladder?: readonly LadderEntry[];
}

/** ReplicationSource is a replica's view of its leader. */
export interface ReplicationSource {
  /** describe names the leader for logs ("local store 3", "http://127.0.0.1:8080"). */
  readonly describe: string;
  /** counters are a ring's (RingSource; the other transports count nothing of their own): /stats and /metrics show them. */
  readonly counters?: Readonly<RingCounters>;
  /**
   * pull returns records after `after` (waiting up to `waitMs` for some), 'gone' when `after` is no
   * longer retained, 'diverged' when `after` is beyond the leader's last seq (the replica holds
   * another history), or a Diverged fork when the replica's records at or below `after` are not the
   * leader's (PullOptions: its epoch, history id or ladder says so). Either way the replica must
   * resync from a snapshot.
   */
  pull(after: number, maxBytes: number, waitMs: number, options?: PullOptions): Promise<PullResult>;
  /**
   * follow (optional: a leader on the replica's own commit log) feeds the replica directly from
   * the leader's log batches instead of pulls, if it can start now (FollowRequest). When the feed
   * ends the replica pulls from its ack again.
   */
  follow?(r: FollowRequest): Feed | undefined;
  /** snapshot streams the leader's whole state. */
  snapshot(): Promise<SnapshotStream>;
  close(): Promise<void>;
}
