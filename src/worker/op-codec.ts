/**
 * Encoders and readers for the operation batches of op-format.ts. Readers are cursors: `next()`
 * moves to the next record and exposes its fields; `key` and `value` are views into the batch,
 * valid as long as the batch buffer is.
 */
import { BatchBuffer } from './batch-buffer.js';
import {
  OP_VERSION,
  type OpCode,
  REPLY_HEADER_BYTES,
  REQUEST_HEADER_BYTES,
  type ReplyStatus,
} from './op-format.js';

// Byte-wise little-endian integers: cheaper per record than Buffer's range-checked writeUInt32LE
// and readUInt32LE (the callers reserve the room and read inside the batch).
function putU32(b: Buffer, p: number, v: number): void {
  b[p] = v;
  b[p + 1] = v >>> 8;
  b[p + 2] = v >>> 16;
  b[p + 3] = v >>> 24;
}

// The value of a record without one (a read request, a write's reply): shared, never written to.
const NO_BYTES = Buffer.alloc(0);

function getU32(b: Buffer, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

// Keys up to this many UTF-16 units are copied by a JS loop when they are ASCII: cheaper than a
// call into Buffer's native UTF-8 encoder for the short keys of the hot path.
const ASCII_LOOP_MAX = 64;

/** putString writes `s` as UTF-8 at `p` (room reserved by the caller) and returns its byte length. */
function putString(b: Buffer, p: number, s: string): number {
  const n = s.length;
  if (n <= ASCII_LOOP_MAX) {
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) break;
      b[p + i] = c;
    }
    if (i === n) return n;
  }
  return b.write(s, p, 'utf8');
}

/** RequestWriter encodes requests into a batch. */
export class RequestWriter extends BatchBuffer {
  constructor() {
    super(OP_VERSION);
  }

  /** add appends one request; `key` and `value` are written as given (strings as UTF-8). */
  add(
    id: number,
    op: OpCode,
    store: number,
    key: string | Uint8Array,
    value: Uint8Array | string | undefined,
    w = 0,
    timeoutMs = 0,
  ): void {
    const valueBytes =
      value === undefined ? 0 : typeof value === 'string' ? Buffer.byteLength(value) : value.length;
    this.reserve(REQUEST_HEADER_BYTES + (typeof key === 'string' ? key.length * 3 : key.length) + valueBytes);
    const b = this.buf;
    let p = this.len;
    putU32(b, p, id);
    b[p + 4] = op;
    b[p + 5] = store;
    b[p + 6] = store >>> 8;
    let keyLen: number;
    if (typeof key === 'string') keyLen = putString(b, p + REQUEST_HEADER_BYTES, key);
    else {
      b.set(key, p + REQUEST_HEADER_BYTES);
      keyLen = key.length;
    }
    b[p + 7] = keyLen;
    b[p + 8] = keyLen >>> 8;
    putU32(b, p + 9, valueBytes);
    b[p + 13] = w;
    putU32(b, p + 14, timeoutMs);
    p += REQUEST_HEADER_BYTES + keyLen;
    if (typeof value === 'string') p += b.write(value, p, 'utf8');
    else if (value !== undefined) {
      b.set(value, p);
      p += valueBytes;
    }
    this.len = p;
    this.count++;
  }
}

/** BatchReader is the cursor state shared by the request and reply readers. */
abstract class BatchReader {
  protected readonly b: Buffer;
  /** ab is the batch's ArrayBuffer: views are made over it, as `b.subarray` asks the runtime for `b.buffer` each time. */
  protected readonly ab: ArrayBuffer;
  protected readonly length: number;
  protected p = 1;

  /** constructor: throws when the batch's version byte is not OP_VERSION. */
  constructor(buffer: ArrayBuffer, length: number, what: string) {
    this.length = length;
    this.ab = buffer;
    this.b = Buffer.from(buffer, 0, length);
    if (this.b[0] !== OP_VERSION) throw new Error(`${what} batch version ${this.b[0]} is not ${OP_VERSION}`);
  }

  /** next moves to the next record; false at the end of the batch. */
  abstract next(): boolean;
}

/** RequestReader walks a request batch. */
export class RequestReader extends BatchReader {
  id = 0;
  op = 0;
  store = 0;
  w = 0;
  timeoutMs = 0;
  key: Buffer = NO_BYTES;
  value: Buffer = NO_BYTES;

  constructor(buffer: ArrayBuffer, length: number) {
    super(buffer, length, 'op');
  }

  next(): boolean {
    const b = this.b;
    const p = this.p;
    if (p + REQUEST_HEADER_BYTES > this.length) return false;
    this.id = getU32(b, p);
    this.op = b[p + 4]!;
    this.store = b[p + 5]! | (b[p + 6]! << 8);
    const keyLen = b[p + 7]! | (b[p + 8]! << 8);
    const valueLen = getU32(b, p + 9);
    this.w = b[p + 13]!;
    this.timeoutMs = getU32(b, p + 14);
    const k = p + REQUEST_HEADER_BYTES;
    this.key = Buffer.from(this.ab, k, keyLen);
    this.value = valueLen === 0 ? NO_BYTES : Buffer.from(this.ab, k + keyLen, valueLen);
    this.p = k + keyLen + valueLen;
    return true;
  }
}

/** ReplyWriter encodes replies into a batch. */
export class ReplyWriter extends BatchBuffer {
  constructor() {
    super(OP_VERSION);
  }

  /** add appends one reply. */
  add(id: number, status: ReplyStatus, seq: number, value: Uint8Array | undefined): void {
    const n = value === undefined ? 0 : value.length;
    this.reserve(REPLY_HEADER_BYTES + n);
    const b = this.buf;
    const p = this.len;
    putU32(b, p, id);
    b[p + 4] = status;
    // Reads carry seq 0: eight zero bytes, without the float conversion.
    if (seq === 0) for (let i = p + 5; i < p + 13; i++) b[i] = 0;
    else b.writeDoubleLE(seq, p + 5);
    putU32(b, p + 13, n);
    if (value !== undefined) b.set(value, p + REPLY_HEADER_BYTES);
    this.len = p + REPLY_HEADER_BYTES + n;
    this.count++;
  }
}

/** ReplyReader walks a reply batch. */
export class ReplyReader extends BatchReader {
  id = 0;
  status = 0;
  seq = 0;
  value: Buffer = NO_BYTES;

  constructor(buffer: ArrayBuffer, length: number) {
    super(buffer, length, 'reply');
  }

  next(): boolean {
    const b = this.b;
    const p = this.p;
    if (p + REPLY_HEADER_BYTES > this.length) return false;
    this.id = getU32(b, p);
    this.status = b[p + 4]!;
    this.seq = b.readDoubleLE(p + 5);
    const n = getU32(b, p + 13);
    this.value = n === 0 ? NO_BYTES : Buffer.from(this.ab, p + REPLY_HEADER_BYTES, n);
    this.p = p + REPLY_HEADER_BYTES + n;
    return true;
  }
}
