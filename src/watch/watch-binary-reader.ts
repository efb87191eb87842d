/**
 * The reading side of the binary watch stream (watch-binary-format.ts has the grammar): a
 * BinaryWatchReader takes a response body chunk by chunk, in whatever pieces the network cut it,
 * and returns the frames each chunk completes, for either version (the stream's first byte says
 * which). A damaged stream throws a DistkvError('CORRUPTION') that says what is wrong and where
 * (the frame's offset in the stream): a version it does not know, a frame longer than MAX_FRAME,
 * a varint over MAX_VARINT_BYTES, a change whose header or key overruns its frame, a delta change
 * with no change before it or a seq delta of 0.
 *
 * Two ways to read: `push` returns each frame decoded into its own objects (copies of the key and
 * value), and `read` hands each frame to a ChangeSink as numbers and offsets into the bytes read,
 * which stay valid after the call (a chunk is never reused here; a frame split across chunks is
 * joined into a buffer of its own), so a reader that keeps only what its caller asks for
 * allocates nothing else per change (src/client/watch-decode.ts). Only the bytes of a frame
 * split across two chunks are copied; the rest of a chunk is read where it lies.
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
  TYPE_EXPIRE,
  TYPE_JSON,
  TYPE_PUT,
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

/** ChangeKind is a change frame's kind: 1 put, 2 delete, 3 expire (TYPE_PUT.. in watch-binary-format.ts). */
export type ChangeKind = 1 | 2 | 3;

/** ChangeSink receives the frames `read` decodes, in stream order. */
export interface ChangeSink {
  /**
   * change: a change of `kind` at version `epoch`.`seq` of `shard`; its key is `buf[keyAt,
   * valueAt)`, a put's value `buf[valueAt, end)` (views of bytes that are never modified).
   */
  change(
    kind: ChangeKind,
    shard: number,
    epoch: number,
    seq: number,
    buf: Buffer,
    keyAt: number,
    valueAt: number,
    end: number,
  ): void;
  /** json: any other event, as its JSON text. */
  json(text: string): void;
}

const TYPE_KIND = [undefined, 'put', 'delete', 'expire'] as const;
const EMPTY = Buffer.alloc(0);
/** HEAD_BYTES covers a frame's header up to its body (version 2: type and a length varint). */
const HEAD_BYTES = 1 + MAX_VARINT_BYTES;
const SEQ_HI = 2 ** 32;
/** INCOMPLETE is what `varint` returns when the bytes end inside the varint. */
const INCOMPLETE = -1;

/** BinaryWatchReader decodes one binary watch stream (see the design block). */
export class BinaryWatchReader {
  // the start of a frame the last chunk cut (a copy), whose stream offset is `offset`: the first
  // `carried` bytes of `carry`, which grows by doubling (up to the frame's size, once known) so a
  // large frame cut into many small chunks is copied about twice, not once per chunk
  private carry: Buffer = EMPTY;
  private carried = 0;
  /** version is the stream's, once its first byte was read. */
  version: StreamVersion | undefined;
  // the stream offset of the buffer being read (of carry[0] between calls)
  private offset = 0;
  // version 2: the change before (a delta change's base); shard -1 before the first one
  private shard = -1;
  private epoch = 0;
  private seq = 0;
  // varint's result: the offset after the varint just read
  private next = 0;

  /** push returns the frames completed by `chunk` (keep-alives and unknown types are skipped). */
  push(chunk: Buffer): DecodedFrame[] {
    const out: DecodedFrame[] = [];
    this.read(chunk, {
      change: (kind, shard, epoch, seq, buf, keyAt, valueAt, end) => {
        out.push({
          type: TYPE_KIND[kind],
          shard,
          key: Buffer.from(buf.subarray(keyAt, valueAt)),
          version: formatVersion({ epoch, seq }),
          value: kind === TYPE_PUT ? Buffer.from(buf.subarray(valueAt, end)) : undefined,
        });
      },
      json: (json) => {
        out.push({ type: 'json', json });
      },
    });
    return out;
  }

  /**
   * read hands `sink` the frames completed by `chunk` (keep-alives and unknown types are
   * skipped); `chunk` must not be modified afterwards (the sink's views may point into it).
   */
  read(chunk: Buffer, sink: ChangeSink): void {
    let buf = chunk;
    if (this.version === undefined) {
      if (buf.length === 0) return;
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
    if (this.carried > 0) {
      // Complete the frame the last chunk cut, joining only its own bytes.
      const carried = this.carried;
      const head = this.carry.subarray(0, carried);
      const total = this.frameSize(
        carried >= HEAD_BYTES ? head : Buffer.concat([head, buf.subarray(0, HEAD_BYTES - carried)]),
      );
      if (total === INCOMPLETE || carried + buf.length < total) {
        this.keep(buf, total);
        return;
      }
      this.keep(buf.subarray(0, total - carried), total);
      const frame = this.carry.subarray(0, total);
      this.carry = EMPTY;
      this.carried = 0;
      this.frames(frame, sink);
      this.offset += total;
      buf = buf.subarray(total - carried);
    }
    const at = this.frames(buf, sink);
    if (at < buf.length) this.keep(buf.subarray(at), INCOMPLETE);
    this.offset += at;
  }

  /**
   * keep appends `bytes` to the carried start of a frame of `total` bytes (INCOMPLETE: not known
   * yet), growing the carry by doubling, never past `total`.
   */
  private keep(bytes: Buffer, total: number): void {
    const need = this.carried + bytes.length;
    if (need > this.carry.length) {
      let size = Math.max(need, this.carry.length * 2, HEAD_BYTES);
      if (total !== INCOMPLETE) size = Math.max(need, Math.min(size, total));
      const grown = Buffer.allocUnsafe(size);
      this.carry.copy(grown, 0, 0, this.carried);
      this.carry = grown;
    }
    bytes.copy(this.carry, this.carried);
    this.carried = need;
  }

  /** frames reads the whole frames of `buf` (at stream offset `offset`); returns where the rest starts. */
  private frames(buf: Buffer, sink: ChangeSink): number {
    return this.version === VERSION_1 ? this.framesV1(buf, sink) : this.framesV2(buf, sink);
  }

  /** frameSize is the bytes of the frame at `buf[0]` (checked against MAX_FRAME), or INCOMPLETE. */
  private frameSize(buf: Buffer): number {
    if (this.version === VERSION_1) {
      if (buf.length < FRAME_HEADER) return INCOMPLETE;
      const length = buf.readUInt32LE(0);
      this.checkLength(length, 0);
      return FRAME_HEADER + length;
    }
    const length = this.varint(buf, 1, buf.length, 0);
    if (length === INCOMPLETE) return INCOMPLETE;
    this.checkLength(length, 0);
    return this.next + length;
  }

  /** framesV1 reads the whole version 1 frames of `buf` into `sink`; returns where the rest starts. */
  private framesV1(buf: Buffer, sink: ChangeSink): number {
    let at = 0;
    while (buf.length - at >= FRAME_HEADER) {
      const length = buf.readUInt32LE(at);
      this.checkLength(length, at);
      if (buf.length - at < FRAME_HEADER + length) break;
      this.frameV1(buf, at, buf[at + 4]!, length, sink);
      at += FRAME_HEADER + length;
    }
    return at;
  }

  private frameV1(buf: Buffer, at: number, type: number, length: number, sink: ChangeSink): void {
    const body = at + FRAME_HEADER;
    if (type === TYPE_JSON) {
      sink.json(buf.toString('utf8', body, body + length));
      return;
    }
    if (type < TYPE_PUT || type > TYPE_EXPIRE) return;
    if (length < CHANGE_HEADER)
      this.corrupt(at, `change frame of ${length} bytes; at least ${CHANGE_HEADER}`);
    const keyLength = buf.readUInt16LE(body + 14);
    if (CHANGE_HEADER + keyLength > length)
      this.corrupt(at, `change key of ${keyLength} bytes overruns its frame`);
    const seq = buf.readUInt32LE(body + 6) + buf.readUInt32LE(body + 10) * SEQ_HI;
    const keyAt = body + CHANGE_HEADER;
    sink.change(
      type as ChangeKind,
      buf.readUInt16LE(body),
      buf.readUInt32LE(body + 2),
      seq,
      buf,
      keyAt,
      keyAt + keyLength,
      body + length,
    );
  }

  /** framesV2 reads the whole version 2 frames of `buf` into `sink`; returns where the rest starts. */
  private framesV2(buf: Buffer, sink: ChangeSink): number {
    let at = 0;
    while (buf.length - at >= 2) {
      const length = this.varint(buf, at + 1, buf.length, at);
      if (length === INCOMPLETE) break;
      this.checkLength(length, at);
      const body = this.next;
      if (buf.length - body < length) break;
      this.frameV2(buf, at, body, length, sink);
      at = body + length;
    }
    return at;
  }

  private frameV2(buf: Buffer, at: number, body: number, length: number, sink: ChangeSink): void {
    const type = buf[at]!;
    if (type === TYPE_JSON) {
      sink.json(buf.toString('utf8', body, body + length));
      return;
    }
    const kind = type & KIND_MASK;
    if (kind < TYPE_PUT || kind > TYPE_EXPIRE || (type & ~(KIND_MASK | ABSOLUTE)) !== 0) return;
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
    sink.change(kind as ChangeKind, this.shard, this.epoch, this.seq, buf, keyAt, keyAt + keyLength, end);
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
