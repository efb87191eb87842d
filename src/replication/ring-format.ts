/**
 * The SharedArrayBuffer ring between a leader store and a replica store on different workers of one
 * process (docs/architecture.md, "Replication"): single producer (the leader's worker), single consumer (the replica's).
 *
 * Layout (byte offsets into the SharedArrayBuffer; each control word on its own 64-byte line):
 *
 *   0    HEAD   BigInt64  bytes ever published      written only by the producer (Atomics.store)
 *   64   TAIL   BigInt64  bytes ever consumed       written only by the consumer (Atomics.store)
 *   128  WAKE   Int32     publish/drop counter      producer: Atomics.add + Atomics.notify
 *   132  LAPPED Int32     1 after a dropped batch   producer sets, consumer clears
 *   136  GEN    Int32     producers ever started    each producer: Atomics.add once, at its start
 *   192  DATA   capacity bytes (a power of two)
 *
 *   entry := len:u32 firstSeq:u64 lastSeq:u64 records:(len - 16)   (4-byte aligned; len counts the
 *            two seqs and the records, which are WAL-framed); len = WRAP (0xffffffff) means "the
 *            rest of the buffer is unused, continue at offset 0".
 *
 * Publish order: the producer writes an entry's bytes at HEAD mod capacity, then stores the new
 * HEAD, then bumps WAKE and notifies. Consume order: the consumer loads HEAD, reads entries up to
 * it, then stores the new TAIL. An entry that does not fit (the consumer is too far behind) is
 * dropped, LAPPED set and WAKE bumped as for a publish: the consumer notices a seq gap (or, with
 * nothing after it in the ring, LAPPED) and catches up from the leader's WAL over the other path,
 * then rejoins the ring. The producer never waits.
 *
 * The producer publishes from the leader's log listener (StoreLog.handOver), in the same step as
 * the leader store's last seq moves past the batch: a replica fed by the ring is never ahead of the
 * seq the leader checks its pulls against (pull-answer.ts, REPLICA_AHEAD), though it often is of
 * the last seq the leader's worker publishes in shared memory once the write resolves
 * (SLOT_LAST_SEQ, the consumer's `leaderSeq`).
 *
 * A new producer on a ring (a new leader state: the leader's worker restarted, the store was
 * promoted again) bumps GEN before it publishes anything. A consumer takes no batch from a producer
 * generation before a pull over the other path has been answered since that generation began (it
 * reads GEN after its take: every batch taken is then of that generation or an older one): the
 * leader checks the replica's position there (a replica whose records the leader lost in a power
 * cut is told its fork), and counts the replica's shared ack for `w=N` only from then on
 * (leader-state.ts).
 */

/** RING_HEAD is the byte offset of HEAD. */
export const RING_HEAD = 0;
/** RING_TAIL is the byte offset of TAIL. */
export const RING_TAIL = 64;
/** RING_WAKE is the byte offset of WAKE. */
export const RING_WAKE = 128;
/** RING_LAPPED is the byte offset of LAPPED. */
export const RING_LAPPED = 132;
/** RING_GEN is the byte offset of GEN. */
export const RING_GEN = 136;
/** RING_DATA is the byte offset of the data area. */
export const RING_DATA = 192;
/** RING_ENTRY_HEADER is the size of an entry before its records: len + firstSeq + lastSeq. */
export const RING_ENTRY_HEADER = 4 + 8 + 8;
/** RING_WRAP marks the unused end of the buffer. */
export const RING_WRAP = 0xffffffff;

/** ringBytesFor returns the SharedArrayBuffer size for a data area of `capacity` bytes (rounded up to a power of two). */
export function ringBytesFor(capacity: number): number {
  return RING_DATA + 2 ** Math.ceil(Math.log2(Math.max(4096, capacity)));
}
