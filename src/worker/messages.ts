/**
 * Messages between the main thread and a shard worker (the control channel; key operations travel
 * as binary batches, see op-format.ts, wrapped in the `ops` / `replies` messages below).
 *
 * Every message is a discriminated union member with a `type`; `MESSAGE_VERSION` is checked when a
 * worker starts (in `WorkerInit`). Receivers check the shape at the edge with `isToWorker` /
 * `isFromWorker` and drop anything else with a log line instead of acting on it.
 */
import type { Durability, StorageEngine } from '../config/schema.js';
import type { WireError } from '../errors.js';
import type { LadderEntry } from '../replication/record-ladder.js';
import type { EpochStart } from '../routing/live-map.js';
import type { ReplayReport } from '../storage/replay-progress.js';
import type { LsmTuning } from '../storage/store.js';

/** MESSAGE_VERSION is the version of this message set. */
export const MESSAGE_VERSION = 3;

/**
 * ACKED_REPLY_BYTES: a `replies` message of at least this many bytes is acknowledged by a
 * `replies-taken` once the main thread has taken it, when the worker was asked to (`reply-flow`).
 * Smaller batches (a turn of small values) are neither counted nor acknowledged.
 */
export const ACKED_REPLY_BYTES = 64 * 1024;

/** StoreRole says whether a store is a shard's leader or one of its replicas. */
export type StoreRole = 'leader' | 'replica';

/** StoreSpec tells a worker which store to open and what it holds. */
export interface StoreSpec {
  /** index is the process-wide store index used in op batches. */
  index: number;
  shard: { idx: number; name: string; first: number; last: number };
  role: StoreRole;
  /** node is the address of the node this store belongs to. */
  node: string;
  dir: string;
  engine: StorageEngine;
  durability: Durability;
  fsyncIntervalMs: number;
  lsm: LsmTuning;
  /** repair lets recovery drop damaged data (reported) instead of refusing to start. */
  repair: boolean;
  /** replication is set for replicas: where their leader is and how to pull from it. */
  replication?: ReplicaSpec;
  /** epoch is the shard's epoch in the live map (0 when absent): a leader writes its records in it. */
  epoch?: number;
  /** history is the shard's epoch history in the live map (src/routing/live-map.ts; [] when absent). */
  history?: EpochStart[];
  /** rings are, for a leader, the rings it publishes its log into (one per replica on another worker). */
  rings?: { buffer: SharedArrayBuffer; replicaStore: number; replicaNode: string }[];
}

/** ReplicaSpec tells a replica store how to reach its leader. */
export interface ReplicaSpec {
  /** leaderAddress is the node ("host:port") of the shard's leader. */
  leaderAddress: string;
  /** leaderStore is the leader's process-wide store index when it is in this process. */
  leaderStore: number | undefined;
  token: string;
  scheme: 'http' | 'https';
  /** tlsCa is the PEM file of the CA trusted for an https leader (server.tls_ca); "" = the system's CAs. */
  tlsCa: string;
  pullMaxBytes: number;
  pullWaitMs: number;
  /** configHash is this node's topology hash, sent with pulls so a leader with another config refuses them. */
  configHash: string;
  /** ring is the SharedArrayBuffer ring from a leader on another worker of this process (ring-format.ts). */
  ring?: SharedArrayBuffer;
  /**
   * leaderWatched: the leader store here starts watched for a replica ahead of it (set at the
   * start, src/server/behind-leaders.ts): on its worker, until it takes a write, it refuses this
   * replica's pulls ahead of it instead of telling it to resync (local-source.ts).
   */
  leaderWatched?: boolean;
}

/** Fork tells a replica store that its records above `seq` were written in an epoch before `epoch` and no leader of `epoch` has them. */
export interface Fork {
  epoch: number;
  seq: number;
}

/** WorkerInit is the workerData every shard worker starts with. */
export interface WorkerInit {
  version: typeof MESSAGE_VERSION;
  workerIndex: number;
  stores: StoreSpec[];
  /** positions holds one BigInt64 per store index: its last acknowledged seq (written by the owning worker). */
  positions: SharedArrayBuffer;
  logLevel: string;
}

/**
 * StoreScan asks store `store` for a page of its live keys under `prefix` after `after`: at most
 * `limit` entries, ending after the one that brings its keys' and values' bytes to `maxBytes`
 * (Store.scan; `scanPageFull` of the page says whether more may follow).
 */
export interface StoreScan {
  store: number;
  prefix: Uint8Array;
  after: Uint8Array | null;
  limit: number;
  maxBytes: number;
}

/** ToWorker is a message from the main thread to a worker. */
export type ToWorker =
  | { type: 'ops'; buffer: ArrayBuffer; length: number }
  /**
   * reply-flow: the main thread acknowledges every `replies` message of ACKED_REPLY_BYTES or more
   * once taken (`replies-taken`), and the worker holds the rest of its large batches while
   * `holdBytes` of them are untaken (reply-batch.ts, "Flow"). Sent once, before any `ops`.
   */
  | { type: 'reply-flow'; holdBytes: number }
  /** replies-taken: the main thread took `bytes` of acknowledged `replies` messages. */
  | { type: 'replies-taken'; bytes: number }
  /** scan reads a page of a store's live keys (StoreScan). */
  | ({ type: 'scan'; id: number } & StoreScan)
  | { type: 'stats'; id: number }
  /** expiry-census counts the keys with a live expiry among up to `limit` keys of a store after `after` (expiry-census.ts). */
  | { type: 'expiry-census'; id: number; store: number; after: Uint8Array | null; limit: number }
  | { type: 'purge'; id: number }
  | { type: 'close'; id: number }
  /** set-role turns a store over to `spec.role` (a newer live map moved its shard's leader). */
  | { type: 'set-role'; id: number; store: number; spec: StoreSpec; fork: Fork | null }
  /**
   * fence holds (on) or releases client writes of a leader store; the result names its last seq once
   * held. Of a replica store it holds its following instead, for at most `ms` (ReplicationHost.holdFollowing).
   */
  | { type: 'fence'; id: number; store: number; on: boolean; ms?: number }
  /**
   * end-pulls: the process stops. Once the writes the worker's leaders accepted settled, every
   * parked pull is answered at once and later ones do not wait (src/util/stop-wakes.ts).
   */
  | { type: 'end-pulls'; id: number }
  /**
   * end-watch: the process stops and its watch streams have ended. Every parked watch poll is
   * answered at once and later ones do not wait (src/util/stop-wakes.ts).
   */
  | { type: 'end-watch'; id: number }
  | {
      type: 'repl-pull';
      id: number;
      store: number;
      after: number;
      maxBytes: number;
      waitMs: number;
      replica: string;
      /** epoch is the epoch of the replica's record at `after` (src/replication/epochs.ts). */
      epoch: number;
      /** history is the replica's history id (src/replication/history-check.ts); absent: not checked. */
      history?: string;
      /** ladder is the crcs of some of the replica's records (src/replication/record-ladder.ts); absent: not checked. */
      ladder?: LadderEntry[];
    }
  | {
      type: 'repl-snapshot';
      id: number;
      store: number;
      after: Uint8Array | null;
      /** limit and maxBytes bound the page: entries, and their keys' and values' bytes (Store.scan). */
      limit: number;
      maxBytes: number;
      seq: number | null;
      /** crc is the snapshot's crc32c through the page before (null for the first: the worker starts it with the header). */
      crc: number | null;
    }
  | { type: 'seed-next'; id: number; stores: number[] }
  | { type: 'seed-ack'; id: number; stores: number[]; key: string; value: string }
  /** watch-read reads a store's log after `after` for watchers (src/watch/watch-tap.ts). */
  | { type: 'watch-read'; id: number; store: number; after: number; maxBytes: number; waitMs: number }
  /**
   * watch-polls is the watch-reads of several stores of this worker in one message (the feeds of
   * one turn, src/watch/log-polls.ts): answered once any of them has a record after its `after`,
   * or after `waitMs`, with one item per read in the same order.
   */
  | { type: 'watch-polls'; id: number; reads: WatchPoll[]; waitMs: number }
  /**
   * watch-scan reads a page of a watch snapshot (StoreScan; the result adds the store's seq);
   * `keysOnly`: its entries' values are left empty (a watch with values=0).
   */
  | ({ type: 'watch-scan'; id: number; keysOnly: boolean } & StoreScan);

/** WatchPoll is one store's read in a `watch-polls` message: as a `watch-read`'s fields. */
export interface WatchPoll {
  store: number;
  after: number;
  maxBytes: number;
}

/**
 * WatchPollAnswer is one read's answer in a `watch-polls-result`: a `watch-read-result`'s fields,
 * or the error that read threw (the others are answered all the same).
 */
export type WatchPollAnswer = ({ ok: true } & WatchRead) | { ok: false; error: WireError };

/** WatchRead is what a read of a store's log for a watch feed answers (`watch-read-result`, `watch-polls-result`). */
export interface WatchRead {
  /** gone: the log no longer holds `after` + 1 (or `after` is past the store's end). */
  gone: boolean;
  buffer: ArrayBuffer | null;
  length: number;
  /** lastSeq is the seq of the last record returned (`after` when none). */
  lastSeq: number;
  /** end is the store's last seq when read. */
  end: number;
  /** epoch is the epoch of the store's newest records (its log's); absent without a replication seam. */
  epoch?: number;
}

/** StoreStatsReport is one store's entry in a stats result: StoreStats plus replication fields; readers check each field's type. */
export interface StoreStatsReport {
  index: number;
  stats: Record<string, unknown>;
}

/**
 * ScanEntry is one entry of a scan result (bytes copied out of the store), with the seq of the key's
 * last write (set by the worker) and, once the main thread has mapped it, its version `E.S`.
 */
export interface ScanEntry {
  key: Uint8Array;
  value: Uint8Array;
  seq?: number;
  version?: string;
}

/** FromWorker is a message from a worker to the main thread. */
export type FromWorker =
  | {
      type: 'ready';
      stores: { index: number; engine: string; keys: number; lastSeq: number }[];
      /** failedStores are the stores that could not open (they answer UNAVAILABLE with `error`). */
      failedStores?: { index: number; error: WireError }[];
    }
  | { type: 'failed'; error: WireError }
  | { type: 'replies'; buffer: ArrayBuffer; length: number }
  /** scan-result: `more` says the page stopped at its `limit` or `maxBytes` (scanPageFull), so more may follow its last key. */
  | { type: 'scan-result'; id: number; ok: true; entries: ScanEntry[]; more: boolean }
  | { type: 'stats-result'; id: number; ok: true; stores: StoreStatsReport[] }
  /**
   * expiry-census-result: of the keys the page visited, how many hold a value whose expiry has not
   * passed and the sum of their times left (ms); `next` is the next page's `after`, null at the end.
   */
  | {
      type: 'expiry-census-result';
      id: number;
      ok: true;
      count: number;
      ttlSumMs: number;
      next: Uint8Array | null;
    }
  | { type: 'purge-result'; id: number; ok: true; deleted: number }
  | { type: 'close-result'; id: number; ok: true }
  | { type: 'set-role-result'; id: number; ok: true }
  | { type: 'fence-result'; id: number; ok: true; lastSeq: number }
  | { type: 'end-pulls-result'; id: number; ok: true }
  | { type: 'end-watch-result'; id: number; ok: true }
  | {
      type: 'repl-pull-result';
      id: number;
      ok: true;
      gone: boolean;
      buffer: ArrayBuffer | null;
      length: number;
      leaderSeq: number;
      /** epoch is the leader's epoch; recordsEpoch the epoch of the records sent (one per batch). */
      epoch: number;
      recordsEpoch: number;
      /** fork is set when the replica's (epoch, after) left the leader's history (409 DIVERGED). */
      fork: number | null;
      /** history is the leader's history id (src/replication/history-check.ts), null while it has none. */
      history: string | null;
      /** stopping: the process is stopping (end-pulls); the answer closes its connection. */
      stopping: boolean;
    }
  | {
      type: 'repl-snapshot-result';
      id: number;
      ok: true;
      seq: number;
      /** buffer holds the page's entries encoded as in snapshot-format.ts (with the end marker when `last`). */
      buffer: ArrayBuffer;
      length: number;
      count: number;
      last: boolean;
      lastKey: Uint8Array | null;
      /** crc is the snapshot's crc32c through this page (snapshot-format.ts), to continue with the next. */
      crc: number;
      /** history is the leader's history id (src/replication/history-check.ts), null while it has none. */
      history: string | null;
    }
  | {
      type: 'seed-result';
      id: number;
      ok: true;
      change: { key: string; value: string } | null;
      acked: boolean;
    }
  | ({ type: 'watch-read-result'; id: number; ok: true } & WatchRead)
  | {
      type: 'watch-polls-result';
      id: number;
      ok: true;
      answers: WatchPollAnswer[];
    }
  | {
      type: 'watch-scan-result';
      id: number;
      ok: true;
      entries: ScanEntry[];
      seq: number;
      last: boolean;
      /** epoch is as a watch-read-result's. */
      epoch?: number;
    }
  | { type: 'error-result'; id: number; ok: false; error: WireError }
  /**
   * pull-refused: the node `leader` refused a replica's pull with the error `code` (answered to no
   * message: the worker's followers pull on their own). The main thread's peer check asks that
   * node for its config at once when the code says it sees a dispute (PeerCheck.refusedBy).
   */
  | { type: 'pull-refused'; leader: string; code: string }
  /**
   * replay-progress: while the worker opens its stores, how much of its commit log it has replayed
   * (src/storage/replay-progress.ts; sent unasked, before `ready`), for the starting node's
   * /cluster and RESP INFO (WorkerPool.loading).
   */
  | ({ type: 'replay-progress' } & ReplayReport);

const TO_WORKER_TYPES = new Set([
  'ops',
  'reply-flow',
  'replies-taken',
  'scan',
  'stats',
  'expiry-census',
  'purge',
  'close',
  'set-role',
  'fence',
  'end-pulls',
  'end-watch',
  'repl-pull',
  'repl-snapshot',
  'seed-next',
  'seed-ack',
  'watch-read',
  'watch-polls',
  'watch-scan',
]);
const FROM_WORKER_TYPES = new Set([
  'ready',
  'failed',
  'replies',
  'scan-result',
  'stats-result',
  'expiry-census-result',
  'purge-result',
  'close-result',
  'set-role-result',
  'fence-result',
  'end-pulls-result',
  'end-watch-result',
  'repl-pull-result',
  'repl-snapshot-result',
  'seed-result',
  'watch-read-result',
  'watch-polls-result',
  'watch-scan-result',
  'error-result',
  'pull-refused',
  'replay-progress',
]);

function typeOf(msg: unknown): unknown {
  return typeof msg === 'object' && msg !== null ? (msg as { type?: unknown }).type : undefined;
}

/** isToWorker checks that a received value is a ToWorker message. */
export function isToWorker(msg: unknown): msg is ToWorker {
  const t = typeOf(msg);
  return typeof t === 'string' && TO_WORKER_TYPES.has(t);
}

/** isFromWorker checks that a received value is a FromWorker message. */
export function isFromWorker(msg: unknown): msg is FromWorker {
  const t = typeOf(msg);
  return typeof t === 'string' && FROM_WORKER_TYPES.has(t);
}
