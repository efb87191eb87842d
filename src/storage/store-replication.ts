/**
 * The replication seam of a store: everything replication (src/replication/) needs of one store,
 * whatever engine is behind it. A store that replicates exposes it as `Store.replication`; one that
 * does not (the lmdb engine, a plain MemoryStore) leaves it undefined, and replicas of it stay empty.
 *
 * A leader is read through it (its log after a replica's ack, a snapshot of its keys, what its log
 * must retain for replicas, the epoch its records are written in); a replica is written through it
 * (the leader's records with the leader's seqs, or a snapshot loaded before any write).
 *
 * Implementations: LsmReplication (lsm-replication.ts: an LSM store and its part of the worker's
 * commit log) and MemoryReplication (memory-replication.ts: the in-memory twin, a MemoryStore over
 * a MemoryLog). Both pass the conformance suite in test/unit/store-replication.test.ts.
 *
 * Invariants every implementation keeps:
 *  - the log (ReplicationLog) holds the store's records in WAL framing in seq order, the leader's
 *    own writes and applied records alike: a replica's log serves the bytes its leader's did, so
 *    a promoted replica is read as it was written;
 *  - applyReplicated takes records whose first seq follows `lastSeq()`, makes them durable per the
 *    durability mode, then visible, and resolves with the last seq; anything else is refused
 *    (INTERNAL) before it changes the store or its epoch; one that fails after its log took the
 *    records (an apply threw) leaves `lastSeq()` at the last record applied and `mustRebuild()` true;
 *  - `epoch` is what the store's next records are logged in; `epochRecovered` says it was read
 *    back at open from the log's newest record of the store (else the caller derives it);
 *  - a snapshot is loaded only into a store that holds nothing (`loadSnapshotChunk` then
 *    `finishSnapshot(S)`); reopened, the store's log continues at S + 1;
 *  - `history` is the id of the history the store's records belong to (history-format.ts), kept
 *    across a reopen once `setHistory` returned; a store wiped for a resync has none until set.
 */
import type { ReplicationLog } from './replication-log.js';
import type { StoreEntry } from './store.js';

/**
 * SnapshotEntry is one key of a snapshot, as a replica loads it: with the seq of the write that set
 * it and its expiry (Unix ms, 0 = never); both absent in an old (version 2) snapshot.
 */
export interface SnapshotEntry {
  key: Uint8Array;
  value: Uint8Array;
  seq?: number;
  expiresAtMs?: number;
}

/** entrySeq is the version a loaded snapshot entry gets: its own, or the snapshot's `seq` when it has none. */
export function entrySeq(e: SnapshotEntry, seq: number): number {
  return e.seq === undefined || e.seq === 0 ? seq : e.seq;
}

/** Feed is a running direct feed of a replica (StoreReplication.feed). */
export interface Feed {
  /** ended resolves once nothing more is fed: with the error that ended it, if one did. */
  readonly ended: Promise<Error | undefined>;
  /** stop ends the feed. */
  stop(): void;
}

/** StoreReplication is one store as replication reads and writes it. */
export interface StoreReplication extends ReplicationLog {
  /** lastSeq is the seq of the store's newest acknowledged record. */
  lastSeq(): number;
  /** scan pages through live keys in key order, as Store.scan does (a leader's snapshot). */
  scan(prefix: Uint8Array, after: Uint8Array | undefined, limit: number, maxBytes?: number): StoreEntry[];
  /** epoch is the epoch the store's next log records are written in (docs/wal-format.md, "Epoch history"). */
  epoch: number;
  /** epochRecovered says `epoch` was read back at open from the store's newest record in its log. */
  readonly epochRecovered: boolean;
  /**
   * history is the id of the history the store's records belong to (history-format.ts): (epoch,
   * seq) names a record only within it. Undefined: none yet (a new store, a store wiped for a
   * resync, or one written before ids).
   */
  readonly history: string | undefined;
  /** setHistory makes `id` the store's history id, durably before it returns (it survives a reopen). */
  setHistory(id: string): void;
  /** setRetention installs the hook giving the lowest seq a replica still needs (undefined = none). */
  setRetention(hook: () => number | undefined): void;
  /**
   * applyReplicated applies a batch of the leader's records (WAL framing, the leader's seqs),
   * logged in `epoch` when given; resolves with the last seq once durable per the durability mode.
   * `checked` says the batch came from a log of this process (replication-log.ts: its checksums
   * were verified on the way in), so they are not computed again; the framing always is checked.
   */
  applyReplicated(records: Buffer, epoch?: number, checked?: boolean): Promise<number>;
  /**
   * loadSnapshotChunk stores snapshot entries with their own seqs and expiries (an entry without a
   * seq gets the snapshot's `seq`), only into a store that holds nothing yet.
   */
  loadSnapshotChunk(entries: readonly SnapshotEntry[], seq: number): Promise<void>;
  /** finishSnapshot records that the store holds everything through `seq`; reopen it afterwards. */
  finishSnapshot(seq: number): Promise<void>;
  /**
   * feed (optional: stores that share a commit log) makes `replica`, whose log ends exactly where
   * this store's written log does, receive every record this store logs from now on in the same
   * commit-log batch (docs/commit-log-format.md, "Mirrored replicas"); `applied` gets the
   * replica's last seq each time a part is durable and applied. Undefined when it cannot start now.
   */
  feed?(replica: StoreReplication, applied: (last: number) => void): Feed | undefined;
  /**
   * mustRebuild (optional) says the store's log holds replicated records that its memtable lacks:
   * an apply threw after the log took them (the memtable could not grow). It refuses every further
   * batch, and its follower rebuilds it from a leader snapshot: pulling again would start inside the
   * batch its log already holds, and a restart would replay records its ack never covered.
   */
  mustRebuild?(): boolean;
  /**
   * isClosed (optional) says the store has begun closing: its log takes and announces nothing
   * more, so a waiter on it (waitForLog) is answered at once and a reader on its thread must not
   * ask again straight away.
   */
  isClosed?(): boolean;
}
