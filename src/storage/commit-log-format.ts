/**
 * The commit log format: one log per worker thread, shared by every store the worker owns
 * (docs/commit-log-format.md). It is also the replication log: a store's records are read back out
 * of it in the per-store WAL record framing of wal-format.ts, which is what replicas receive.
 *
 * A log is a sequence of segment files `NNNNNNNN.log` (8 decimal digits, from 00000001) in the
 * worker's log directory. Integers are little-endian.
 *
 *   segment := header frame*
 *   header  := magic:u32 version:u8 reserved:u8[3] segmentNo:u32 logId:u8[8] reserved:u8[4]   (24 bytes)
 *   frame   := fcrc:u32 len:u32 kind:u8 store:u32 epoch:u32 body:len
 *   fcrc    := crc32c of len, kind, store and epoch (the 13 bytes after fcrc), and for FRAME_MARK
 *              of its body too (the 21 bytes after fcrc)
 *   kind    := FRAME_RECORDS | FRAME_BASE | FRAME_MARK
 *   body    := record{1..}         for FRAME_RECORDS (wal-format.ts records, each with its own crc)
 *            | nextSeq:u64         for FRAME_BASE
 *            | syncedThrough:u64   for FRAME_MARK (store 0, epoch 0; version 3 segments only)
 *
 * One group commit writes one FRAME_RECORDS frame per store that wrote in the turn (one per epoch
 * its records were appended in, when the store's epoch changed meanwhile): its records are
 * contiguous, so a replica's batch is a view of the frame body. `store` is STORE_ID(name), the
 * crc32c of the store's name (its directory relative to the data directory, e.g.
 * `127.0.0.1_8080/shard-0`): stable across restarts, config reloads and worker counts.
 *
 * A FRAME_BASE says "this store's next record has seq nextSeq": records of the store earlier in the
 * log with seq ≥ nextSeq are void (a replica rebuilt from a snapshot starts its log again).
 *
 * A FRAME_MARK (a sync mark) opens every batch of a version 3 segment: `syncedThrough` is the offset
 * of this segment up to which the log knew its bytes durable (an fdatasync had completed) when the
 * batch was laid out. Recovery uses it to tell a torn in-flight batch from damaged history
 * (commit-log-reader.ts). It belongs to no store and is never handed to one.
 *
 * Identity: `logId` is 8 random bytes drawn when the log is created, kept in the file LOG_ID_FILE
 * of the log directory and written into every segment's header, so a segment of another log (another
 * worker's or node's, copied in with the same number) is refused, not replayed. A version 1 header
 * (the first format: no logId) is read as "no identity"; a log continues no such segment (the
 * first write after an upgrade starts a new segment), so they can only precede identified ones.
 * Likewise a version 2 segment (identified, no sync marks) is read but never continued: a log only
 * writes batches with marks, into version 3 segments.
 *
 * Invariants: per store, the seqs of the records that are not void increase by exactly 1 through
 * the whole log; the segment numbers have no gaps; every identified segment carries the log's id.
 * Only the tail of the newest segment may hold a torn frame; anything wrong elsewhere is corruption.
 * In a version 3 segment a batch's mark never says more than the offset the batch starts at.
 */
import { randomBytes } from 'node:crypto';
import { crc32c } from './crc32c.js';
import { readU64, writeU64 } from './wal-format.js';

/** LOG_MAGIC is "DKVC" read as a little-endian u32. */
export const LOG_MAGIC = 0x43564b44;
/** LOG_VERSION is the format version byte of the segment headers this build writes: batches start with a FRAME_MARK. */
export const LOG_VERSION = 3;
/** LOG_VERSION_UNMARKED is the previous version: a logId, no sync marks (still read). */
export const LOG_VERSION_UNMARKED = 2;
/** LOG_VERSION_UNIDENTIFIED is the first version, whose headers carry no logId (still read). */
export const LOG_VERSION_UNIDENTIFIED = 1;
/** LOG_HEADER_BYTES is the size of a segment header. */
export const LOG_HEADER_BYTES = 24;
/** LOG_ID_OFFSET and LOG_ID_BYTES place the logId in a segment header. */
export const LOG_ID_OFFSET = 12;
export const LOG_ID_BYTES = 8;
/** LOG_ID_FILE names the file of a log directory that holds its logId (hex; named to sort before the segments). */
export const LOG_ID_FILE = '.log-id';
/** FRAME_HEADER_BYTES is fcrc + len + kind + store + epoch. */
export const FRAME_HEADER_BYTES = 4 + 4 + 1 + 4 + 4;
/** FRAME_RECORDS marks a frame whose body is one store's records. */
export const FRAME_RECORDS = 1;
/** FRAME_BASE marks a frame whose body is a store's next seq. */
export const FRAME_BASE = 2;
/** BASE_BODY_BYTES is the body size of a FRAME_BASE. */
export const BASE_BODY_BYTES = 8;
/** FRAME_MARK marks a frame whose body is how far the segment was synced when its batch was laid out. */
export const FRAME_MARK = 3;
/** MARK_FRAME_BYTES is the size of a whole FRAME_MARK (header and syncedThrough). */
export const MARK_FRAME_BYTES = FRAME_HEADER_BYTES + 8;
/** MAX_FRAME_LEN bounds `len` so garbage is not taken for a frame. */
export const MAX_FRAME_LEN = 1024 * 1024 * 1024;

/** FrameKind is FRAME_RECORDS, FRAME_BASE or FRAME_MARK. */
export type FrameKind = typeof FRAME_RECORDS | typeof FRAME_BASE | typeof FRAME_MARK;

/** storeIdOf returns the log's id of a store from its name (see the grammar above). */
export function storeIdOf(name: string): number {
  return crc32c(Buffer.from(name, 'utf8'), 0, Buffer.byteLength(name, 'utf8'));
}

/** newLogId draws the id of a new log: LOG_ID_BYTES random bytes in hex. */
export function newLogId(): string {
  return randomBytes(LOG_ID_BYTES).toString('hex');
}

/** encodeLogHeader returns a segment header of log `logId` (hex, newLogId). */
export function encodeLogHeader(segmentNo: number, logId: string): Buffer {
  const h = Buffer.alloc(LOG_HEADER_BYTES);
  h.writeUInt32LE(LOG_MAGIC, 0);
  h[4] = LOG_VERSION;
  h.writeUInt32LE(segmentNo, 8);
  h.write(logId, LOG_ID_OFFSET, LOG_ID_BYTES, 'hex');
  return h;
}

/** LogHeader is a decoded segment header; `logId` is undefined in a version 1 header. */
export interface LogHeader {
  segmentNo: number;
  logId: string | undefined;
  /** marked: a version 3 segment, whose batches start with a FRAME_MARK. */
  marked: boolean;
}

/** decodeLogHeader decodes a segment header, or says why it is not one. */
export function decodeLogHeader(b: Buffer): LogHeader | string {
  if (b.length < LOG_HEADER_BYTES) return `header is ${b.length} bytes; expected ${LOG_HEADER_BYTES}`;
  if (b.readUInt32LE(0) !== LOG_MAGIC) return 'bad magic (not a distkv commit log segment)';
  const version = b[4];
  if (version === undefined || version < LOG_VERSION_UNIDENTIFIED || version > LOG_VERSION)
    return `unsupported commit log version ${version} (this build reads ${LOG_VERSION_UNIDENTIFIED} to ${LOG_VERSION})`;
  return {
    segmentNo: b.readUInt32LE(8),
    logId:
      version === LOG_VERSION_UNIDENTIFIED
        ? undefined
        : b.toString('hex', LOG_ID_OFFSET, LOG_ID_OFFSET + LOG_ID_BYTES),
    marked: version === LOG_VERSION,
  };
}

/** writeFrameHeader writes a frame header at `offset` of `b` for a body of `len` bytes. */
export function writeFrameHeader(
  b: Buffer,
  offset: number,
  kind: FrameKind,
  store: number,
  epoch: number,
  len: number,
): void {
  b.writeUInt32LE(len, offset + 4);
  b[offset + 8] = kind;
  b.writeUInt32LE(store, offset + 9);
  b.writeUInt32LE(epoch, offset + 13);
  b.writeUInt32LE(crc32c(b, offset + 4, offset + FRAME_HEADER_BYTES), offset);
}

/**
 * writeMarkFrame writes a FRAME_MARK saying `syncedThrough` at `offset` of `b` (MARK_FRAME_BYTES);
 * its fcrc covers its body, so a mark torn across two pages is not read as valid.
 */
export function writeMarkFrame(b: Buffer, offset: number, syncedThrough: number): void {
  writeU64(b, syncedThrough, offset + FRAME_HEADER_BYTES);
  b.writeUInt32LE(MARK_FRAME_BYTES - FRAME_HEADER_BYTES, offset + 4);
  b[offset + 8] = FRAME_MARK;
  b.writeUInt32LE(0, offset + 9);
  b.writeUInt32LE(0, offset + 13);
  b.writeUInt32LE(crc32c(b, offset + 4, offset + MARK_FRAME_BYTES), offset);
}

/** encodeBaseFrame returns a FRAME_BASE frame. */
export function encodeBaseFrame(store: number, epoch: number, nextSeq: number): Buffer {
  const b = Buffer.alloc(FRAME_HEADER_BYTES + BASE_BODY_BYTES);
  writeU64(b, nextSeq, FRAME_HEADER_BYTES);
  writeFrameHeader(b, 0, FRAME_BASE, store, epoch, BASE_BODY_BYTES);
  return b;
}

/** FrameHeader is a decoded frame header. */
export interface FrameHeader {
  kind: FrameKind;
  store: number;
  epoch: number;
  /** len is the body's size; the body starts FRAME_HEADER_BYTES after the frame. */
  len: number;
}

/**
 * decodeFrameHeader decodes the frame header at `offset`: "short" when the buffer ends inside the
 * header or the body, otherwise a description of the damage. The body is not checked here (its
 * records carry their own crcs; see decodeBase for a base frame).
 */
export function decodeFrameHeader(b: Buffer, offset: number): FrameHeader | string {
  if (offset + FRAME_HEADER_BYTES > b.length) return 'short';
  // A mark's checksum covers its body: read as a mark only if it is whole (else as a header).
  const crcEnd = b[offset + 8] === FRAME_MARK ? MARK_FRAME_BYTES : FRAME_HEADER_BYTES;
  if (offset + crcEnd > b.length) return 'short';
  if (crc32c(b, offset + 4, offset + crcEnd) !== b.readUInt32LE(offset))
    return 'frame header checksum mismatch';
  const len = b.readUInt32LE(offset + 4);
  const kind = b[offset + 8];
  if (kind !== FRAME_RECORDS && kind !== FRAME_BASE && kind !== FRAME_MARK)
    return `unknown frame kind ${kind}`;
  if (
    len > MAX_FRAME_LEN ||
    (kind === FRAME_BASE && len !== BASE_BODY_BYTES) ||
    (kind === FRAME_MARK && len !== MARK_FRAME_BYTES - FRAME_HEADER_BYTES)
  )
    return `frame length ${len} is impossible`;
  if (offset + FRAME_HEADER_BYTES + len > b.length) return 'short';
  return { kind, store: b.readUInt32LE(offset + 9), epoch: b.readUInt32LE(offset + 13), len };
}

/** decodeBase returns the next seq a FRAME_BASE body (at `offset`, after the header) carries. */
export function decodeBase(b: Buffer, offset: number): number {
  return readU64(b, offset);
}

/** decodeMark returns the syncedThrough a FRAME_MARK body (at `offset`, after the header) carries. */
export function decodeMark(b: Buffer, offset: number): number {
  return readU64(b, offset);
}
