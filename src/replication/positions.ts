/**
 * Positions: the cross-thread positions layout, in one module that the worker (writing a store's
 * seq), replication (a replica's ack and state) and the main thread (/cluster, lag, metrics)
 * import. Per-store numbers that workers publish and the main thread reads without a message,
 * in one SharedArrayBuffer of BigInt64 slots, POSITION_SLOTS per store index:
 *
 *   slot 0 SLOT_LAST_SEQ    the store's last durable seq             written by the owning worker
 *   slot 1 SLOT_LEADER_SEQ  replicas: the leader's last seq, as seen written by the replica's worker
 *   slot 2 SLOT_STATE       replicas: FOLLOWER_STATES index          written by the replica's worker
 *   slot 3 SLOT_CAUGHT_UP_AT replicas: Date.now() of the latest moment the replica is known to have
 *                            held everything its leader had acknowledged; 0 = never (ditto)
 *   slot 4 SLOT_CONTACT_AT   replicas: Date.now() when the leader last answered; 0 = never (ditto)
 *   slot 5 SLOT_LAST_WRITE_SEQ the store's last seq that is not a TYPE_EXPIRE record its leader
 *                            logged itself as a TTL ran out (`raiseByExpiry`); written by the owning
 *                            worker along with slot 0: every `set` or `raise` of SLOT_LAST_SEQ
 *                            moves it too, so it is never above slot 0 and is conservative (it
 *                            counts as a write every record it was not told is an expiry)
 *   slot 6 SLOT_LOCAL_ERROR  replicas: 1 + the index in LOCAL_ERROR_CODES of the failure of the
 *                            replica's own disk that stopped it following (local-failure.ts);
 *                            0 = none (a pull applied since, or the failure was not its disk's);
 *                            written by the replica's worker with SLOT_STATE
 *   slot 7 SLOT_STORE_ERROR  every store: 1 + the index in LOCAL_ERROR_CODES of what refuses every
 *                            write to the store itself, whatever its role (its directory removed
 *                            or replaced while it runs: STORE_DIR_LOST, store-dir-watch.ts); 0 =
 *                            none; written by the owning worker when the store opens (0), when
 *                            its watch finds the directory gone, and every second from its commit
 *                            log's failure and its flushes' and compactions' refusal
 *                            (worker-stores.ts publishLogFailure). /cluster reads it for leaders and
 *                            replicas alike: a leader's store said nothing anywhere but /metrics
 *
 * Writers use Atomics.store, readers Atomics.load; each slot has exactly one writing thread.
 * SLOT_LAST_WRITE_SEQ is what `distkv backup` compares (`last_write_seq` in /cluster): the
 * leader's own expire records change nothing a restore writes (an expired key is skipped), so a
 * shard whose keys keep expiring still holds still for a copy.
 */

/**
 * FollowerState says what a follower is doing; its number is what /cluster and /stats report.
 * `held`: a promotion (or, with etcd, a missing leader key) stopped it following; its lag is unknown.
 * New states go at the end: the numbers of the others are what the slots hold.
 */
export const FOLLOWER_STATES = [
  'starting',
  'streaming',
  'catching-up',
  'resyncing',
  'disconnected',
  'stopped',
  'held',
] as const;
/** FollowerState is one of FOLLOWER_STATES. */
export type FollowerState = (typeof FOLLOWER_STATES)[number];

/**
 * LOCAL_ERROR_CODES are the catalogue's codes of a store that cannot write to its own disk
 * (local-failure.ts), in the order SLOT_LOCAL_ERROR numbers them. New codes go at the end.
 */
export const LOCAL_ERROR_CODES = [
  'DISK_FULL',
  'DISK_IO_ERROR',
  'READ_ONLY_FS',
  'COMMIT_LOG_BROKEN',
  'STORE_DIR_LOST',
  'STORE_DIR_DENIED',
  'TOO_MANY_OPEN_FILES',
  'DATA_DIR_UNUSABLE',
  'CORRUPTION',
] as const;
/** LocalErrorCode is one of LOCAL_ERROR_CODES. */
export type LocalErrorCode = (typeof LOCAL_ERROR_CODES)[number];

/** localErrorSlot is SLOT_LOCAL_ERROR's value for a replica's own disk failure `code` (0: none, or not a disk's code). */
export function localErrorSlot(code: string | undefined): number {
  return LOCAL_ERROR_CODES.indexOf(code as LocalErrorCode) + 1;
}

/** localErrorOf reads SLOT_LOCAL_ERROR's value back as its code (undefined: none). */
export function localErrorOf(slot: number): LocalErrorCode | undefined {
  return slot === 0 ? undefined : LOCAL_ERROR_CODES[slot - 1];
}

/** POSITION_SLOTS is the number of slots per store. */
export const POSITION_SLOTS = 8;
/** SLOT_LAST_SEQ holds the store's last durable seq. */
export const SLOT_LAST_SEQ = 0;
/** SLOT_LEADER_SEQ holds, for a replica, its leader's last seq as last seen. */
export const SLOT_LEADER_SEQ = 1;
/** SLOT_STATE holds, for a replica, the index of its follower state. */
export const SLOT_STATE = 2;
/** SLOT_CAUGHT_UP_AT holds, for a replica, the latest time it provably held all its leader had (ms since the epoch; 0 = never). */
export const SLOT_CAUGHT_UP_AT = 3;
/** SLOT_CONTACT_AT holds, for a replica, when its leader last answered it (ms since the epoch; 0 = never). */
export const SLOT_CONTACT_AT = 4;
/** SLOT_LAST_WRITE_SEQ holds the store's last seq other than its leader's own expire records (at most SLOT_LAST_SEQ). */
export const SLOT_LAST_WRITE_SEQ = 5;
/** SLOT_LOCAL_ERROR holds, for a replica, 1 + the LOCAL_ERROR_CODES index of its own disk's failure (0 = none). */
export const SLOT_LOCAL_ERROR = 6;
/** SLOT_STORE_ERROR holds, for every store, 1 + the LOCAL_ERROR_CODES index of what refuses all its writes (0 = none). */
export const SLOT_STORE_ERROR = 7;

/** FollowerSlots is what a follower publishes of itself (follower.ts FollowerPosition has these fields). */
export interface FollowerSlots {
  ack: number;
  leaderSeq: number;
  caughtUpAt: number;
  contactAt: number;
  localError: string | undefined;
  state: FollowerState;
}

/** Positions wraps the shared slots. */
export class Positions {
  private readonly slots: BigInt64Array;

  constructor(buffer: SharedArrayBuffer) {
    this.slots = new BigInt64Array(buffer);
  }

  /** bytesFor returns the buffer size for `stores` stores. */
  static bytesFor(stores: number): number {
    return Math.max(1, stores) * POSITION_SLOTS * 8;
  }

  get(store: number, slot: number): number {
    return Number(Atomics.load(this.slots, store * POSITION_SLOTS + slot));
  }

  /** set stores `value` in a slot; SLOT_LAST_SEQ moves SLOT_LAST_WRITE_SEQ with it. */
  set(store: number, slot: number, value: number): void {
    Atomics.store(this.slots, store * POSITION_SLOTS + slot, BigInt(value));
    if (slot === SLOT_LAST_SEQ)
      Atomics.store(this.slots, store * POSITION_SLOTS + SLOT_LAST_WRITE_SEQ, BigInt(value));
  }

  /** raise sets a slot to `value` if that is larger (for seqs, which only grow); SLOT_LAST_SEQ raises SLOT_LAST_WRITE_SEQ with it. */
  raise(store: number, slot: number, value: number): void {
    if (slot === SLOT_LAST_SEQ) this.raiseOne(store, SLOT_LAST_WRITE_SEQ, value);
    this.raiseOne(store, slot, value);
  }

  /** raiseByExpiry raises SLOT_LAST_SEQ alone to `seq`, the durable TYPE_EXPIRE record a leader logged itself as a TTL ran out. */
  raiseByExpiry(store: number, seq: number): void {
    this.raiseOne(store, SLOT_LAST_SEQ, seq);
  }

  /**
   * publishFollower writes what replica `store`'s follower reports (follower.ts FollowerPosition):
   * its ack, leader seq, freshness, contact, own-disk failure and, last, its state (a reader that
   * sees the state sees the rest).
   */
  publishFollower(store: number, p: FollowerSlots): void {
    this.set(store, SLOT_LAST_SEQ, p.ack);
    this.set(store, SLOT_LEADER_SEQ, p.leaderSeq);
    this.set(store, SLOT_CAUGHT_UP_AT, p.caughtUpAt);
    this.set(store, SLOT_CONTACT_AT, p.contactAt);
    this.set(store, SLOT_LOCAL_ERROR, localErrorSlot(p.localError));
    this.set(store, SLOT_STATE, FOLLOWER_STATES.indexOf(p.state));
  }

  private raiseOne(store: number, slot: number, value: number): void {
    if (value > this.get(store, slot))
      Atomics.store(this.slots, store * POSITION_SLOTS + slot, BigInt(value));
  }
}
