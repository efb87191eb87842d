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
 *   fcrc    := crc32c of len, kind, store and epoch (the 13 bytes after fcrc)
 *   kind    := FRAME_RECORDS | FRAME_BASE
 *   body    := record{1..}      for FRAME_RECORDS (wal-format.ts records, each with its own crc)
 *            | nextSeq:u64      for FRAME_BASE
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
 * Identity: `logId` is 8 random bytes drawn when the log is created, kept in the file LOG_ID_FILE
 * of the log directory and written into every segment's header, so a segment of another log (another
 * worker's or node's, copied in with the same number) is refused, not replayed. A version 1 header
 * (the previous format: no logId) is read as "no identity"; a log continues no such segment (the
 * first write after an upgrade starts a new segment), so they can only precede identified ones.
 *
 * Invariants: per store, the seqs of the records that are not void increase by exactly 1 through
 * the whole log; the segment numbers have no gaps; every identified segment carries the log's id.
 * Only the tail of the newest segment may hold a torn frame; anything wrong elsewhere is corruption.
 */
import { randomBytes } from 'node:crypto';
import { crc32c } from './crc32c.js';
import { readU64, writeU64 } from './wal-format.js';

/** LOG_MAGIC is "DKVC" read as a little-endian u32. */
export const LOG_MAGIC = 0x43564b44;
/** LOG_VERSION is the format version byte of segment headers. */
export const LOG_VERSION = 2;
/** LOG_VERSION_UNIDENTIFIED is the previous version, whose headers carry no logId (still read). */
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
/** MAX_FRAME_LEN bounds `len` so garbage is not taken for a frame. */
export const MAX_FRAME_LEN = 1024 * 1024 * 1024;

/** FrameKind is FRAME_RECORDS or FRAME_BASE. */
export type FrameKind = typeof FRAME_RECORDS | typeof FRAME_BASE;

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
}

/** decodeLogHeader decodes a segment header, or says why it is not one. */
export function decodeLogHeader(b: Buffer): LogHeader | string {
  if (b.length < LOG_HEADER_BYTES) return `header is ${b.length} bytes; expected ${LOG_HEADER_BYTES}`;
  if (b.readUInt32LE(0) !== LOG_MAGIC) return 'bad magic (not a distkv commit log segment)';
  const version = b[4];
  if (version !== LOG_VERSION && version !== LOG_VERSION_UNIDENTIFIED)
    return `unsupported commit log version ${version} (this build reads ${LOG_VERSION_UNIDENTIFIED} and ${LOG_VERSION})`;
  return {
    segmentNo: b.readUInt32LE(8),
    logId:
      version === LOG_VERSION ? b.toString('hex', LOG_ID_OFFSET, LOG_ID_OFFSET + LOG_ID_BYTES) : undefined,
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
  if (crc32c(b, offset + 4, offset + FRAME_HEADER_BYTES) !== b.readUInt32LE(offset))
    return 'frame header checksum mismatch';
  const len = b.readUInt32LE(offset + 4);
  const kind = b[offset + 8];
  if (kind !== FRAME_RECORDS && kind !== FRAME_BASE) return `unknown frame kind ${kind}`;
  if (len > MAX_FRAME_LEN || (kind === FRAME_BASE && len !== BASE_BODY_BYTES))
    return `frame length ${len} is impossible`;
  if (offset + FRAME_HEADER_BYTES + len > b.length) return 'short';
  return { kind, store: b.readUInt32LE(offset + 9), epoch: b.readUInt32LE(offset + 13), len };
}

/** decodeBase returns the next seq a FRAME_BASE body (at `offset`, after the header) carries. */
export function decodeBase(b: Buffer, offset: number): number {
  return readU64(b, offset);
}
