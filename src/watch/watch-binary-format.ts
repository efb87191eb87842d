/**
 * The binary watch stream (docs/watch.md, "Binary stream"): what `GET /watch` sends, as the body of
 * a chunked response, to a client that asks for it with `Accept: application/vnd.distkv.watch`
 * (version 1) or `Accept: application/vnd.distkv.watch; version=2`. The same events as over SSE,
 * but a change is a binary header and raw bytes instead of text: a client reads each event's
 * shard, version and key without searching or parsing text, and a value travels as it is (no
 * escaping, no base64). Every other event (hello, progress, snapshot markers and entries, resume)
 * is its JSON, as over SSE. Version 2 writes the header as varints and the shard, epoch and seq
 * as deltas from the change before, so a change after the first of its block costs 4 bytes
 * besides its key and value (a seq step under 128, a body under 128 bytes) where version 1
 * costs 21.
 *
 *   stream := VERSION frame*                  (VERSION: 1 or 2, the grammar of every frame after it)
 *   version 1 (little-endian):
 *     frame := length:u32le type:u8 body[length]
 *     type CHANGE_PUT | CHANGE_DELETE | CHANGE_EXPIRE:
 *       body := shard:u16le epoch:u32le seq_lo:u32le seq_hi:u32le key_length:u16le key value
 *   version 2 (varint: unsigned LEB128, 7 bits a byte, lowest first, at most 8 bytes, < 2^53):
 *     frame := type:u8 length:varint body[length]
 *     type CHANGE_PUT | CHANGE_DELETE | CHANGE_EXPIRE (a delta change):
 *       body := seq_delta:varint key_length:varint key value
 *               (shard and epoch: those of the change frame before it; seq: its seq + seq_delta, ≥ 1)
 *     type ABSOLUTE | CHANGE_PUT | CHANGE_DELETE | CHANGE_EXPIRE (an absolute change):
 *       body := shard:varint epoch:varint seq:varint key_length:varint key value
 *   both versions:
 *     (value: the rest of the body; always empty for a delete or an expire, and for a put
 *      when the stream was opened with values=0)
 *     type JSON:      body := the event's JSON text (UTF-8), the same object SSE's `data:` carries
 *     type KEEPALIVE: body := empty (sent while nothing else is; a reader skips it)
 *
 * Deltas restart at every block (version 2): each block of changes the server encodes (one feed
 * batch of one shard: `changeFrames`) begins with an absolute change, and a delta change refers
 * only to the change before it in the same block. So a block decodes the same whatever came
 * before it in a stream, and a broadcast hands the same bytes to members that joined at different
 * blocks (broadcast.ts). A block also turns absolute again where the epoch changes.
 *
 * A reader skips frames of a type it does not know (their length says how far). A client that
 * does not ask for it gets SSE, and a server that does not know it answers SSE: clients tell the
 * stream by the response's Content-Type and the stream's version byte (a server that knows only
 * version 1 answers it to a client asking for version 2). watch-binary-reader.ts decodes both.
 */
import { hasPrefix } from '../util/bytes.js';
import { type LogRecord, LogView } from './store-log.js';

/** BINARY_MEDIA_TYPE is the Accept value that asks for this stream, and its Content-Type. */
export const BINARY_MEDIA_TYPE = 'application/vnd.distkv.watch';
/** StreamVersion is a version of the binary stream's grammar. */
export type StreamVersion = 1 | 2;
/** VERSION_1 and VERSION_2 are the stream's first byte, per version; LATEST_VERSION the newest. */
export const VERSION_1 = 1;
export const VERSION_2 = 2;
export const LATEST_VERSION: StreamVersion = VERSION_2;
/** FRAME_HEADER is the bytes before a version 1 frame's body: length, type. */
export const FRAME_HEADER = 5;
/** CHANGE_HEADER is the bytes of a version 1 change body before its key: shard, epoch, seq, key length. */
export const CHANGE_HEADER = 16;
export const TYPE_JSON = 0;
export const TYPE_PUT = 1;
export const TYPE_DELETE = 2;
export const TYPE_EXPIRE = 3;
export const TYPE_KEEPALIVE = 4;
/**
 * KEEPALIVE_MS is how often a node writes a keep-alive on a watch stream (a KEEPALIVE frame; over
 * SSE a comment line), whatever else it sends: a stream silent much longer than this has lost its
 * node (paused, dead, cut off), which the client library takes as a dropped connection
 * (src/client/watch-silence.ts).
 */
export const KEEPALIVE_MS = 15000;
/** ABSOLUTE marks a version 2 change that carries its shard, epoch and seq whole (or-ed with its kind). */
export const ABSOLUTE = 0x08;
/** KIND_MASK takes a version 2 change's kind (TYPE_PUT, TYPE_DELETE, TYPE_EXPIRE) out of its type. */
export const KIND_MASK = 0x03;
/** MAX_VARINT_BYTES bounds a varint: 8 bytes carry 56 bits, enough for any seq (< 2^53). */
export const MAX_VARINT_BYTES = 8;
/** MAX_FRAME bounds a frame's length: a key and the largest value a server may send, with room. */
export const MAX_FRAME = 1024 * 1024 * 1024;

const KIND_TYPE = { put: TYPE_PUT, delete: TYPE_DELETE, expire: TYPE_EXPIRE } as const;
const SEQ_HI = 2 ** 32;

/** varintSize is the bytes `n` (a safe non-negative integer) takes as a varint. */
export function varintSize(n: number): number {
  let size = 1;
  for (let v = n; v >= 0x80; v = Math.floor(v / 0x80)) size++;
  return size;
}

/** writeVarint writes `n` as a varint at `out[at]` and returns the offset after it. */
export function writeVarint(out: Buffer, at: number, n: number): number {
  let v = n;
  let i = at;
  while (v >= 0x80) {
    out[i++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[i++] = v;
  return i;
}

/**
 * changeFrames encodes the records of `batch` under `prefix` (their key's bytes start with its
 * bytes; a key travels as its exact bytes, UTF-8 or not) as change frames of stream version
 * `version`, in one buffer (values left out when `values` is false). In version 2 the first
 * change, and any whose epoch differs from the change before, is absolute: see the design block.
 */
export function changeFrames(
  batch: readonly LogRecord[],
  shard: number,
  prefix: Buffer,
  values: boolean,
  epochOf: (seq: number) => number,
  version: StreamVersion,
): Buffer {
  return version === VERSION_1
    ? changeFramesV1(batch, shard, prefix, values, epochOf)
    : changeFramesV2(batch, shard, prefix, values, epochOf);
}

function changeFramesV1(
  batch: readonly LogRecord[],
  shard: number,
  prefix: Buffer,
  values: boolean,
  epochOf: (seq: number) => number,
): Buffer {
  let size = 0;
  const keys: (Buffer | undefined)[] = [];
  for (const r of batch) {
    if (!hasPrefix(r.key, prefix)) {
      keys.push(undefined);
      continue;
    }
    const key = r.key;
    keys.push(key);
    size += FRAME_HEADER + CHANGE_HEADER + key.length + (values ? (r.value?.length ?? 0) : 0);
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  batch.forEach((r, i) => {
    const key = keys[i];
    if (key === undefined) return;
    const value = values ? r.value : undefined;
    const length = CHANGE_HEADER + key.length + (value?.length ?? 0);
    out.writeUInt32LE(length, at);
    out[at + 4] = KIND_TYPE[r.kind];
    out.writeUInt16LE(shard, at + 5);
    out.writeUInt32LE(epochOf(r.seq), at + 7);
    out.writeUInt32LE(r.seq % SEQ_HI, at + 11);
    out.writeUInt32LE(Math.floor(r.seq / SEQ_HI), at + 15);
    out.writeUInt16LE(key.length, at + 19);
    at += FRAME_HEADER + CHANGE_HEADER;
    at += key.copy(out, at);
    if (value !== undefined) at += value.copy(out, at);
  });
  return out;
}

/**
 * keyHasPrefix is hasPrefix(r.key, prefix), read in place for a LogView (no view of its key made).
 */
function keyHasPrefix(r: LogRecord, prefix: Buffer): boolean {
  if (!(r instanceof LogView)) return hasPrefix(r.key, prefix);
  if (r.keyEnd - r.keyStart < prefix.length) return false;
  const b = r.bytes;
  const k = r.keyStart;
  for (let i = 0; i < prefix.length; i++) if (b[k + i] !== prefix[i]) return false;
  return true;
}

/**
 * copyChange writes a change's key and (with `values`) its value at `at` and returns the end: from
 * a LogView's bytes by their offsets (one copy when the value follows the key), else from r.key and
 * r.value.
 */
function copyChange(r: LogRecord, values: boolean, out: Buffer, at: number): number {
  if (r instanceof LogView) {
    const b = r.bytes;
    if (!values || r.valueEnd < 0) return at + b.copy(out, at, r.keyStart, r.keyEnd);
    if (r.valueStart === r.keyEnd) return at + b.copy(out, at, r.keyStart, r.valueEnd);
    at += b.copy(out, at, r.keyStart, r.keyEnd);
    return at + b.copy(out, at, r.valueStart, r.valueEnd);
  }
  at += r.key.copy(out, at);
  const value = values ? r.value : undefined;
  return value === undefined ? at : at + value.copy(out, at);
}

/** keyLength and valueLength are r.key.length and r.value's (0 without one), without views of a LogView. */
function keyLength(r: LogRecord): number {
  return r instanceof LogView ? r.keyEnd - r.keyStart : r.key.length;
}

function valueLength(r: LogRecord): number {
  if (r instanceof LogView) return r.valueEnd < 0 ? 0 : r.valueEnd - r.valueStart;
  return r.value?.length ?? 0;
}

/**
 * bodyLength is the length of a change frame's body: its numbers (absolute: shard, epoch and seq;
 * else the seq's step from `prevSeq`), its key's length, its key and (with `values`) its value.
 */
function bodyLength(
  r: LogRecord,
  shard: number,
  epoch: number,
  absolute: boolean,
  prevSeq: number,
  values: boolean,
): number {
  const keyBytes = keyLength(r);
  const numbers = absolute
    ? varintSize(shard) + varintSize(epoch) + varintSize(r.seq)
    : varintSize(r.seq - prevSeq);
  return numbers + varintSize(keyBytes) + keyBytes + (values ? valueLength(r) : 0);
}

/**
 * changeFramesV2 measures the block in one pass over the batch and writes it in a second making
 * the same decisions (no object per change: this runs per record of every busy broadcast).
 */
function changeFramesV2(
  batch: readonly LogRecord[],
  shard: number,
  prefix: Buffer,
  values: boolean,
  epochOf: (seq: number) => number,
): Buffer {
  let size = 0;
  let prevEpoch = -1;
  let prevSeq = 0;
  for (const r of batch) {
    if (!keyHasPrefix(r, prefix)) continue;
    const epoch = epochOf(r.seq);
    const absolute = epoch !== prevEpoch || r.seq <= prevSeq;
    const body = bodyLength(r, shard, epoch, absolute, prevSeq, values);
    size += 1 + varintSize(body) + body;
    prevEpoch = epoch;
    prevSeq = r.seq;
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  prevEpoch = -1;
  prevSeq = 0;
  for (const r of batch) {
    if (!keyHasPrefix(r, prefix)) continue;
    const epoch = epochOf(r.seq);
    const absolute = epoch !== prevEpoch || r.seq <= prevSeq;
    const kind = KIND_TYPE[r.kind];
    out[at++] = absolute ? kind | ABSOLUTE : kind;
    at = writeVarint(out, at, bodyLength(r, shard, epoch, absolute, prevSeq, values));
    if (!absolute) at = writeVarint(out, at, r.seq - prevSeq);
    else {
      at = writeVarint(out, at, shard);
      at = writeVarint(out, at, epoch);
      at = writeVarint(out, at, r.seq);
    }
    at = writeVarint(out, at, keyLength(r));
    at = copyChange(r, values, out, at);
    prevEpoch = epoch;
    prevSeq = r.seq;
  }
  return out;
}

/** jsonFrame encodes an event's JSON as a frame of stream version `version`. */
export function jsonFrame(json: string, version: StreamVersion): Buffer {
  const length = Buffer.byteLength(json);
  if (version === VERSION_1) {
    const out = Buffer.allocUnsafe(FRAME_HEADER + length);
    out.writeUInt32LE(length, 0);
    out[4] = TYPE_JSON;
    out.write(json, FRAME_HEADER, 'utf8');
    return out;
  }
  const out = Buffer.allocUnsafe(1 + varintSize(length) + length);
  out[0] = TYPE_JSON;
  out.write(json, writeVarint(out, 1, length), 'utf8');
  return out;
}

/** KEEPALIVE_FRAMES are the empty keep-alive frames, by stream version. */
export const KEEPALIVE_FRAMES: Readonly<Record<StreamVersion, Buffer>> = {
  1: Buffer.from([0, 0, 0, 0, TYPE_KEEPALIVE]),
  2: Buffer.from([TYPE_KEEPALIVE, 0]),
};
