/**
 * The write-ahead log format. The WAL is also the replication log: a replica applies these records.
 *
 * A store's WAL is a sequence of segment files `wal/NNNNNNNN.log` (segment number, 8 decimal
 * digits, starting at 00000001), each at most about `wal_segment_bytes`. Integers are little-endian.
 *
 *   segment := header record*
 *   header  := magic:u32 version:u8 reserved:u8[3] segmentNo:u32 epoch:u32 firstSeq:u64      (24 bytes)
 *   record  := crc:u32 len:u32 type:u8 seq:u64 keyLen:u16 key:keyLen value:(len - 11 - keyLen)
 *   type    := TYPE_PUT | TYPE_DELETE | TYPE_PUT_TTL | TYPE_EXPIRE   (DELETE and EXPIRE have an empty value)
 *   value of TYPE_PUT_TTL := expiresAtMs:u64 bytes        (absolute expiry, Unix ms; decodeRecord strips it)
 *   crc     := crc32c of the bytes after the crc field: len, type, seq, keyLen, key, value
 *
 * Since the commit log (docs/commit-log-format.md) these records travel inside its frames and to
 * replicas; the segment layout below is the previous layout, read only to migrate a data directory.
 *
 * Invariants: seqs increase by exactly 1 from record to record, across segments; a segment's
 * `firstSeq` is the seq of its first record (or of the first record it will hold, when empty); the
 * segment numbers of a store have no gaps. Only the tail of the newest segment may hold a torn
 * record (a crash in mid-append); anything wrong elsewhere is corruption.
 *
 * Epoch history (docs/wal-format.md): a store's history is a list of (epoch, firstSeq) transitions.
 * It is kept per shard in the live map today (src/routing/live-map.ts) and `epoch` here is written as
 * 0; the agreed direction is a new segment, carrying the new epoch, at every change of epoch.
 */
import { crc32c } from './crc32c.js';

/** WAL_MAGIC is "DKVW" read as a little-endian u32. */
export const WAL_MAGIC = 0x57564b44;
/** WAL_VERSION is the format version byte of segment headers. */
export const WAL_VERSION = 1;
/** WAL_HEADER_BYTES is the size of a segment header. */
export const WAL_HEADER_BYTES = 24;
/** RECORD_PREFIX_BYTES is crc + len. */
export const RECORD_PREFIX_BYTES = 8;
/** RECORD_FIXED_BYTES is the part of `len` before the key: type + seq + keyLen. */
export const RECORD_FIXED_BYTES = 1 + 8 + 2;
/** TYPE_PUT marks a record that sets a key. */
export const TYPE_PUT = 1;
/** TYPE_DELETE marks a record that deletes a key (a tombstone). */
export const TYPE_DELETE = 2;
/** TYPE_PUT_TTL marks a put with an absolute expiry: the value starts with expiresAtMs:u64 (Unix ms). */
export const TYPE_PUT_TTL = 3;
/** TYPE_EXPIRE marks the leader's ordered delete of a key whose expiry passed (applies as a delete). */
export const TYPE_EXPIRE = 4;
/** EXPIRY_BYTES is the size of the expiry prefix of a TYPE_PUT_TTL value. */
export const EXPIRY_BYTES = 8;
/** MAX_RECORD_LEN bounds `len` (keys ≤ 64 KiB, values ≤ 64 MiB) so garbage is not taken for a record. */
export const MAX_RECORD_LEN = RECORD_FIXED_BYTES + 0xffff + 64 * 1024 * 1024;

/** RecordType is one of the TYPE_ constants. */
export type RecordType = typeof TYPE_PUT | typeof TYPE_DELETE | typeof TYPE_PUT_TTL | typeof TYPE_EXPIRE;

/** isRecordType tells whether a type byte names a record type. */
export function isRecordType(type: number | undefined): type is RecordType {
  return type === TYPE_PUT || type === TYPE_DELETE || type === TYPE_PUT_TTL || type === TYPE_EXPIRE;
}

/** putValueOf returns the value a record sets, or null for a delete or an expire. */
export function putValueOf(r: DecodedRecord): Buffer | null {
  return r.type === TYPE_PUT || r.type === TYPE_PUT_TTL ? r.value : null;
}

/** segmentName returns the file name of segment `no`. */
export function segmentName(no: number): string {
  return `${String(no).padStart(8, '0')}.log`;
}

/** parseSegmentName returns the number of a segment file name, or undefined. */
export function parseSegmentName(name: string): number | undefined {
  const m = /^(\d{8})\.log$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** writeU64 writes a non-negative safe integer as a little-endian u64. */
export function writeU64(b: Buffer, value: number, offset: number): void {
  b.writeUInt32LE(value % 0x100000000, offset);
  b.writeUInt32LE(Math.floor(value / 0x100000000), offset + 4);
}

/** readU64 reads a little-endian u64 as a number (exact below 2^53). */
export function readU64(b: Buffer, offset: number): number {
  return b.readUInt32LE(offset) + b.readUInt32LE(offset + 4) * 0x100000000;
}

/** encodeHeader returns a segment header. */
export function encodeHeader(segmentNo: number, epoch: number, firstSeq: number): Buffer {
  const h = Buffer.alloc(WAL_HEADER_BYTES);
  h.writeUInt32LE(WAL_MAGIC, 0);
  h[4] = WAL_VERSION;
  h.writeUInt32LE(segmentNo, 8);
  h.writeUInt32LE(epoch, 12);
  writeU64(h, firstSeq, 16);
  return h;
}

/** SegmentHeader is a decoded segment header. */
export interface SegmentHeader {
  segmentNo: number;
  epoch: number;
  firstSeq: number;
}

/** decodeHeader decodes a segment header, or returns why it is not one. */
export function decodeHeader(b: Buffer): SegmentHeader | string {
  if (b.length < WAL_HEADER_BYTES) return `header is ${b.length} bytes; expected ${WAL_HEADER_BYTES}`;
  if (b.readUInt32LE(0) !== WAL_MAGIC) return 'bad magic (not a distkv WAL segment)';
  if (b[4] !== WAL_VERSION) return `unsupported WAL version ${b[4]} (this build reads ${WAL_VERSION})`;
  return { segmentNo: b.readUInt32LE(8), epoch: b.readUInt32LE(12), firstSeq: readU64(b, 16) };
}

/** recordSize returns the encoded size of a record (`type` TYPE_PUT_TTL adds the expiry prefix). */
export function recordSize(keyLen: number, valueLen: number, type: RecordType = TYPE_PUT): number {
  return (
    RECORD_PREFIX_BYTES + RECORD_FIXED_BYTES + keyLen + valueLen + (type === TYPE_PUT_TTL ? EXPIRY_BYTES : 0)
  );
}

/**
 * encodeRecord writes one record at `offset` of `b` (which must have room) and returns its size.
 * For TYPE_PUT_TTL, `expiresAtMs` is written before the value.
 */
export function encodeRecord(
  b: Buffer,
  offset: number,
  type: RecordType,
  seq: number,
  key: Uint8Array,
  value: Uint8Array | undefined,
  expiresAtMs = 0,
): number {
  const prefix = type === TYPE_PUT_TTL ? EXPIRY_BYTES : 0;
  const valueLen = value === undefined ? 0 : value.length;
  const len = RECORD_FIXED_BYTES + key.length + prefix + valueLen;
  // Byte stores and short copies by loop: Buffer's checked writers and `set` cost more than the
  // record's few bytes (this runs for every write; docs/performance.md, "Worker CPU per write").
  putU32(b, offset + 4, len);
  b[offset + 8] = type;
  putU32(b, offset + 9, seq % 0x100000000);
  putU32(b, offset + 13, Math.floor(seq / 0x100000000));
  b[offset + 17] = key.length & 0xff;
  b[offset + 18] = key.length >>> 8;
  copyInto(b, offset + 19, key);
  if (prefix > 0) writeU64(b, expiresAtMs, offset + 19 + key.length);
  if (value !== undefined) copyInto(b, offset + 19 + key.length + prefix, value);
  putU32(b, offset, crc32c(b, offset + 4, offset + RECORD_PREFIX_BYTES + len));
  return RECORD_PREFIX_BYTES + len;
}

/** SHORT_COPY_BYTES: pieces up to this size are copied by a loop, longer ones with `set`. */
const SHORT_COPY_BYTES = 32;

function copyInto(b: Buffer, at: number, src: Uint8Array): void {
  if (src.length > SHORT_COPY_BYTES) b.set(src, at);
  else for (let i = 0; i < src.length; i++) b[at + i] = src[i]!;
}

/** getU32 reads an unsigned 32-bit integer little-endian at `at`; the caller has checked that its four bytes are inside `b`. */
function getU32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** putU32 writes an unsigned 32-bit integer little-endian, without Buffer's range checks. */
function putU32(b: Buffer, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = v >>> 24;
}

/**
 * DecodedRecord is a record read from a buffer; key and value are views into it. `value` is
 * without the expiry prefix, `expiresAtMs` is 0 when there is none, and `epoch` is the epoch of
 * the commit log frame that carried the record (0 when decoded on its own).
 */
export interface DecodedRecord {
  type: RecordType;
  seq: number;
  epoch: number;
  key: Buffer;
  value: Buffer;
  expiresAtMs: number;
  /** size is the record's encoded size. */
  size: number;
}

/**
 * RecordView is a record's fields as offsets into the buffer that holds it, filled by `viewRecord`
 * without allocating: the key is [keyStart, keyEnd), the value [valueStart, end) (after the expiry
 * prefix of a TTL record), `end` is where the next record starts.
 */
export interface RecordView {
  type: RecordType;
  seq: number;
  keyStart: number;
  keyEnd: number;
  valueStart: number;
  end: number;
  expiresAtMs: number;
}

/** newRecordView returns a RecordView to fill. */
export function newRecordView(): RecordView {
  return { type: TYPE_PUT, seq: 0, keyStart: 0, keyEnd: 0, valueStart: 0, end: 0, expiresAtMs: 0 };
}

/**
 * viewRecord fills `v` with the record at `offset`, or returns why it cannot: "short" when the
 * buffer ends inside it, otherwise a description of the damage. `checkCrc` false skips the
 * checksum (a record this process already checked).
 */
export function viewRecord(b: Buffer, offset: number, v: RecordView, checkCrc = true): string | undefined {
  // Every field is read by getU32 once the bytes it reads are known to be inside `b`: Buffer's
  // checked readers made this function 4x slower, and it runs per record for every replica and
  // every recovery (docs/performance.md, "Mirrored replicas: one key hash per record").
  if (offset + RECORD_PREFIX_BYTES > b.length) return 'short';
  const len = getU32(b, offset + 4);
  if (len < RECORD_FIXED_BYTES || len > MAX_RECORD_LEN) return `record length ${len} is impossible`;
  const end = offset + RECORD_PREFIX_BYTES + len;
  if (end > b.length) return 'short';
  if (checkCrc && crc32c(b, offset + 4, end) !== getU32(b, offset)) return 'checksum mismatch';
  const type = b[offset + 8];
  if (!isRecordType(type)) return `unknown record type ${type}`;
  const keyLen = b[offset + 17]! | (b[offset + 18]! << 8);
  if (RECORD_FIXED_BYTES + keyLen > len) return `key length ${keyLen} exceeds the record`;
  const k = offset + 19;
  let value = k + keyLen;
  let expiresAtMs = 0;
  if (type === TYPE_PUT_TTL) {
    if (value + EXPIRY_BYTES > end) return `a TTL record of ${len} bytes has no room for its expiry`;
    expiresAtMs = getU32(b, value) + getU32(b, value + 4) * 0x100000000;
    value += EXPIRY_BYTES;
  }
  v.type = type;
  v.seq = getU32(b, offset + 9) + getU32(b, offset + 13) * 0x100000000;
  v.keyStart = k;
  v.keyEnd = k + keyLen;
  v.valueStart = value;
  v.end = end;
  v.expiresAtMs = expiresAtMs;
  return undefined;
}

/**
 * decodeRecord decodes the record at `offset`, or returns why it cannot: "short" when the buffer
 * ends inside it, otherwise a description of the damage.
 */
export function decodeRecord(b: Buffer, offset: number): DecodedRecord | string {
  const v = newRecordView();
  const damage = viewRecord(b, offset, v);
  if (damage !== undefined) return damage;
  return {
    type: v.type,
    seq: v.seq,
    epoch: 0,
    key: b.subarray(v.keyStart, v.keyEnd),
    value: b.subarray(v.valueStart, v.end),
    expiresAtMs: v.expiresAtMs,
    size: v.end - offset,
  };
}
