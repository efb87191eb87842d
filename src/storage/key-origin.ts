/**
 * KeyOrigin: what a replica fed in its leader's batches (StoreLog.mirrorTo, on the same worker
 * thread) may reuse of the leader's work on a record instead of redoing it: the hash of the
 * record's key for the memtable's index (key-hash.ts), computed once when the leader appended it.
 *
 * Invariant: an origin describes the leader's record `seq`; `keyHash` is hashBytes of that
 * record's key on this thread, when `key` is set. A replica uses it only for the record with that
 * same seq in the same part (a mirrored part is a byte copy of the leader's): a hash paired with
 * another record's key files that key where no lookup finds it.
 */

/** KeyOrigin is a leader's appended record as its mirrored replica may reuse it. */
export interface KeyOrigin {
  /** seq is the record's seq (for a waiter of several records, the last one's). */
  readonly seq: number;
  /** key is the record's key, undefined for a waiter of records appended whole (no hash then). */
  readonly key: Uint8Array | undefined;
  /** keyHash is hashBytes of `key` on this thread. */
  readonly keyHash: number;
}

/**
 * originHash returns the leader's hash of the key of record `seq` from `origins` (the leader's
 * waiters of a part holding `first`..`last`, one per record in seq order when each is one write),
 * or undefined when they do not line up one to one (the caller hashes the key itself).
 */
export function originHash(
  origins: readonly KeyOrigin[],
  first: number,
  last: number,
  seq: number,
): number | undefined {
  if (origins.length !== last - first + 1) return undefined;
  const o = origins[seq - first];
  return o !== undefined && o.seq === seq && o.key !== undefined ? o.keyHash : undefined;
}
