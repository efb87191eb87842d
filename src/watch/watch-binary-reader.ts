/**
 * The reading side of the binary watch stream (watch-binary-format.ts has the grammar): a
 * BinaryWatchReader takes a response body chunk by chunk, in whatever pieces the network cut it,
 * and returns the frames each chunk completes, for either version (the stream's first byte says
 * which). A damaged stream throws a DistkvError('CORRUPTION') that says what is wrong and where
 * (the frame's offset in the stream): a version it does not know, a frame longer than MAX_FRAME,
 * a varint over MAX_VARINT_BYTES, a change whose header or key overruns its frame, a delta change
 * with no change before it or a seq delta of 0.
 */
import { DistkvError } from '../errors.js';
import { formatVersion } from '../routing/version.js';
import {
  ABSOLUTE,
  CHANGE_HEADER,
  FRAME_HEADER,
  KIND_MASK,
  MAX_FRAME,
  MAX_VARINT_BYTES,
  type StreamVersion,
  TYPE_JSON,
  VERSION_1,
  VERSION_2,
} from './watch-binary-format.js';

/** DecodedChange is a change frame, decoded. */
export interface DecodedChange {
  type: 'put' | 'delete' | 'expire';
  shard: number;
  /** key is the key's exact bytes (a copy: a key need not be UTF-8). */
  key: Buffer;
  /** version is `E.S`. */
  version: string;
  /** value is the put's value bytes (a copy); undefined for a delete or an expire. */
  value: Buffer | undefined;
}

/** DecodedFrame is one frame: a change, or the JSON text of any other event. */
export type DecodedFrame = DecodedChange | { type: 'json'; json: string };

const TYPE_KIND = [undefined, 'put', 'delete', 'expire'] as const;
const SEQ_HI = 2 ** 32;
/** INCOMPLETE is what `varint` returns when the bytes end inside the varint. */
const INCOMPLETE = -1;

/** BinaryWatchReader decodes one binary watch stream (see the design block). */
export class BinaryWatchReader {
  private carry: Buffer = Buffer.alloc(0);
  /** version is the stream's, once its first byte was read. */
  version: StreamVersion | undefined;
  // the stream offset of carry[0] (for messages)
  private offset = 0;
  // version 2: the change before (a delta change's base); shard -1 before the first one
  private shard = -1;
  private epoch = 0;
  private seq = 0;
  // varint's result: the offset after the varint just read
  private next = 0;

  /** push returns the frames completed by `chunk` (keep-alives and unknown types are skipped). */
  push(chunk: Buffer): DecodedFrame[] {
    let buf = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]);
    if (this.version === undefined) {
      if (buf.length === 0) return [];
      const v = buf[0];
      if (v !== VERSION_1 && v !== VERSION_2)
        throw new DistkvError(
          'CORRUPTION',
          `watch stream version ${String(v)}; expected ${VERSION_1} or ${VERSION_2}`,
        );
      this.version = v;
      buf = buf.subarray(1);
      this.offset = 1;
    }
    const out: DecodedFrame[] = [];
    const at = this.version === VERSION_1 ? this.framesV1(buf, out) : this.framesV2(buf, out);
    this.carry = Buffer.from(buf.subarray(at));
    this.offset += at;
    return out;
  }

  /** framesV1 decodes the whole version 1 frames of `buf` into `out`; returns where the rest starts. */
  private framesV1(buf: Buffer, out: DecodedFrame[]): number {
    let at = 0;
    while (buf.length - at >= FRAME_HEADER) {
      const length = buf.readUInt32LE(at);
      this.checkLength(length, at);
      if (buf.length - at < FRAME_HEADER + length) break;
      const frame = this.frameV1(buf, at, buf[at + 4]!, length);
      if (frame !== undefined) out.push(frame);
      at += FRAME_HEADER + length;
    }
    return at;
  }

  private frameV1(buf: Buffer, at: number, type: number, length: number): DecodedFrame | undefined {
    const body = at + FRAME_HEADER;
    if (type === TYPE_JSON) return { type: 'json', json: buf.toString('utf8', body, body + length) };
    const kind = TYPE_KIND[type];
    if (kind === undefined) return undefined;
    if (length < CHANGE_HEADER)
      this.corrupt(at, `change frame of ${length} bytes; at least ${CHANGE_HEADER}`);
    const keyLength = buf.readUInt16LE(body + 14);
    if (CHANGE_HEADER + keyLength > length)
      this.corrupt(at, `change key of ${keyLength} bytes overruns its frame`);
    const seq = buf.readUInt32LE(body + 6) + buf.readUInt32LE(body + 10) * SEQ_HI;
    return change(
      kind,
      buf.readUInt16LE(body),
      buf.readUInt32LE(body + 2),
      seq,
      buf,
      body + CHANGE_HEADER,
      keyLength,
      body + length,
    );
  }

  /** framesV2 decodes the whole version 2 frames of `buf` into `out`; returns where the rest starts. */
  private framesV2(buf: Buffer, out: DecodedFrame[]): number {
    let at = 0;
    while (buf.length - at >= 2) {
      const length = this.varint(buf, at + 1, buf.length, at);
      if (length === INCOMPLETE) break;
      this.checkLength(length, at);
      const body = this.next;
      if (buf.length - body < length) break;
      const frame = this.frameV2(buf, at, body, length);
      if (frame !== undefined) out.push(frame);
      at = body + length;
    }
    return at;
  }

  private frameV2(buf: Buffer, at: number, body: number, length: number): DecodedFrame | undefined {
    const type = buf[at]!;
    if (type === TYPE_JSON) return { type: 'json', json: buf.toString('utf8', body, body + length) };
    const kind = TYPE_KIND[type & KIND_MASK];
    if (kind === undefined || (type & ~(KIND_MASK | ABSOLUTE)) !== 0) return undefined;
    const end = body + length;
    if ((type & ABSOLUTE) !== 0) {
      const shard = this.field(buf, body, end, at, 'shard');
      const epoch = this.field(buf, this.next, end, at, 'epoch');
      const seq = this.field(buf, this.next, end, at, 'seq');
      if (epoch >= SEQ_HI) this.corrupt(at, `change epoch ${epoch}; at most ${SEQ_HI - 1}`);
      this.shard = shard;
      this.epoch = epoch;
      this.seq = seq;
    } else {
      if (this.shard < 0) this.corrupt(at, 'delta change with no change before it');
      const delta = this.field(buf, body, end, at, 'seq delta');
      if (delta === 0) this.corrupt(at, 'delta change with a seq delta of 0');
      this.seq += delta;
      if (!Number.isSafeInteger(this.seq)) this.corrupt(at, `change seq ${this.seq} is over 2^53 - 1`);
    }
    const keyLength = this.field(buf, this.next, end, at, 'key length');
    const keyAt = this.next;
    if (keyLength > end - keyAt) this.corrupt(at, `change key of ${keyLength} bytes overruns its frame`);
    return change(kind, this.shard, this.epoch, this.seq, buf, keyAt, keyLength, end);
  }

  /** field reads a varint of a change's header that must end inside its frame (`end`). */
  private field(buf: Buffer, from: number, end: number, frame: number, what: string): number {
    const n = this.varint(buf, from, end, frame);
    if (n === INCOMPLETE) this.corrupt(frame, `change ${what} overruns its frame`);
    return n;
  }

  /**
   * varint reads the varint at `buf[from]` (ending before `end`): its value, with `next` set to
   * the offset after it, or INCOMPLETE when the bytes end first.
   */
  private varint(buf: Buffer, from: number, end: number, frame: number): number {
    let n = 0;
    let scale = 1;
    for (let i = from; i < end; i++) {
      const b = buf[i]!;
      n += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (!Number.isSafeInteger(n)) this.corrupt(frame, `varint ${n} is over 2^53 - 1`);
        this.next = i + 1;
        return n;
      }
      if (i - from + 1 >= MAX_VARINT_BYTES)
        this.corrupt(frame, `varint longer than ${MAX_VARINT_BYTES} bytes`);
      scale *= 0x80;
    }
    return INCOMPLETE;
  }

  private checkLength(length: number, at: number): void {
    if (length > MAX_FRAME) this.corrupt(at, `frame of ${length} bytes; at most ${MAX_FRAME}`);
  }

  private corrupt(at: number, what: string): never {
    throw new DistkvError('CORRUPTION', `watch stream at offset ${this.offset + at}: ${what}`);
  }
}

function change(
  kind: DecodedChange['type'],
  shard: number,
  epoch: number,
  seq: number,
  buf: Buffer,
  keyAt: number,
  keyLength: number,
  end: number,
): DecodedChange {
  return {
    type: kind,
    shard,
    key: Buffer.from(buf.subarray(keyAt, keyAt + keyLength)),
    version: formatVersion({ epoch, seq }),
    value: kind === 'put' ? Buffer.from(buf.subarray(keyAt + keyLength, end)) : undefined,
  };
}
