/**
 * The watch bench's reader of the binary watch stream (src/watch/watch-binary-format.ts, either
 * version): it counts put frames and checks that every change's seq is above the last one of its
 * shard, reading each frame's header where it lies in the read buffer. Only a frame start split
 * between two segments is copied (into `carry`, byte by byte), and nothing is allocated per
 * frame: the watchers' process shares the CPU with the server and wrk, so its cost per event is
 * part of what the bench measures.
 */
import {
  ABSOLUTE,
  FRAME_HEADER,
  KIND_MASK,
  TYPE_EXPIRE,
  TYPE_JSON,
  TYPE_PUT,
  VERSION_1,
  VERSION_2,
} from '../../src/watch/watch-binary-format.js';

/**
 * HEAD is the most a frame's headers take (version 1: 21 bytes; version 2: type, length, shard,
 * epoch, seq and key length as varints, 24 at most); PEEK adds a key's first 64 bytes (onKey).
 */
const HEAD = 24;
const KEY_PEEK = 64;
const PEEK = HEAD + KEY_PEEK;
const HELLO = '{"type":"hello"';

/** u32 reads a little-endian u32 (byte arithmetic: cheaper here than Buffer's reader in a hot loop). */
function u32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** ChangeCounter counts the put frames of one binary watch stream (see the design block). */
export class ChangeCounter {
  /** count is the number of put frames seen. */
  count = 0;
  /** disorder counts changes whose seq was not above the previous change of their shard. */
  disorder = 0;
  /** hello is set once the `hello` event was seen. */
  hello = false;
  /** onKey, when set, is told the key (its first 64 bytes) of every put. */
  onKey: ((key: string) => void) | undefined;
  /** version is the stream's (its first byte); 0 before it was read. */
  version = 0;
  // the last seq of each shard (packed: shard numbers are small)
  private readonly last: number[] = new Array<number>(64).fill(0);
  private readonly carry = Buffer.allocUnsafe(PEEK);
  private carried = 0;
  // bytes of the current frame still to pass over (after its first bytes were looked at)
  private skip = 0;
  // version 2: the change before (a delta change's base)
  private shard = 0;
  private seq = 0;
  // set by total() and varint(): the frame's header length, the offset after a varint
  private headLength = 0;
  private next = 0;

  /** data takes the stream's bytes `b[from, end)`. */
  data(b: Buffer, from: number, end: number): void {
    let i = from;
    if (this.version === 0 && i < end) {
      if (b[i] !== VERSION_1 && b[i] !== VERSION_2) throw new Error(`watch stream version ${String(b[i])}`);
      this.version = b[i]!;
      i++;
    }
    const peek = this.onKey === undefined ? HEAD : PEEK;
    const fast = this.version === VERSION_2 && this.onKey === undefined;
    while (i < end) {
      if (this.skip > 0) {
        const k = Math.min(this.skip, end - i);
        this.skip -= k;
        i += k;
        continue;
      }
      if (this.carried === 0) {
        // The usual case: whole frame starts, read where they lie.
        for (;;) {
          if (fast) {
            i = this.deltas(b, i, end);
            if (i === end) return;
          }
          const total = this.total(b, i, end);
          if (total < 0 || end - i < Math.min(total, peek)) break;
          this.frame(b, i, total);
          if (total > end - i) {
            this.skip = total - (end - i);
            return;
          }
          i += total;
          if (i === end) return;
        }
      }
      // The frame's start is split: gather what is looked at in the carry.
      this.carry[this.carried++] = b[i++]!;
      const total = this.total(this.carry, 0, this.carried);
      if (total < 0 || this.carried < Math.min(total, peek)) continue;
      this.frame(this.carry, 0, total);
      this.skip = total - this.carried;
      this.carried = 0;
    }
  }

  /**
   * deltas passes over the version 2 delta changes from `b[i]` whose length, seq delta and key
   * length are one byte each (a busy stream's usual change: what the bench's watchers spend their
   * time on), and returns where the first other frame starts.
   */
  private deltas(b: Buffer, from: number, end: number): number {
    let i = from;
    let seq = this.seq;
    while (end - i >= 4) {
      const type = b[i]!;
      const length = b[i + 1]!;
      const delta = b[i + 2]!;
      if (
        type === TYPE_JSON ||
        type > TYPE_EXPIRE ||
        length >= 0x80 ||
        delta >= 0x80 ||
        b[i + 3]! >= 0x80 ||
        end - i < 2 + length
      )
        break;
      if (delta === 0) this.disorder++;
      seq += delta;
      if (type === TYPE_PUT) this.count++;
      i += 2 + length;
    }
    if (i !== from) {
      this.seq = seq;
      this.last[this.shard] = seq;
    }
    return i;
  }

  /** total is the bytes of the frame at `b[at]` (headLength set), or -1 when `end` cuts its length. */
  private total(b: Uint8Array, at: number, end: number): number {
    if (this.version === VERSION_1) {
      if (end - at < FRAME_HEADER) return -1;
      this.headLength = FRAME_HEADER;
      return FRAME_HEADER + u32(b, at);
    }
    const length = this.varint(b, at + 1, end);
    if (length < 0) return -1;
    this.headLength = this.next - at;
    return this.headLength + length;
  }

  /** varint reads a varint at `b[at]` (next set after it), or -1 when `end` comes first. */
  private varint(b: Uint8Array, at: number, end: number): number {
    let n = 0;
    let scale = 1;
    for (let i = at; i < end; i++) {
      const x = b[i]!;
      if (x < 0x80) {
        this.next = i + 1;
        return n + x * scale;
      }
      n += (x & 0x7f) * scale;
      scale *= 0x80;
    }
    return -1;
  }

  /** frame looks at the frame of `total` bytes at `b[at]` (at least its first min(total, PEEK) bytes). */
  private frame(b: Buffer, at: number, total: number): void {
    const type = b[at + (this.version === VERSION_1 ? 4 : 0)]!;
    const body = at + this.headLength;
    if (type === TYPE_JSON) {
      if (!this.hello) this.hello = b.toString('latin1', body, at + Math.min(total, HEAD)).startsWith(HELLO);
      return;
    }
    let shard: number;
    let seq: number;
    let keyLength: number;
    let keyAt: number;
    if (this.version === VERSION_1) {
      if (type > 3) return;
      shard = b[body]! | (b[body + 1]! << 8);
      seq = u32(b, body + 6) + u32(b, body + 10) * 2 ** 32;
      keyLength = b[body + 14]! | (b[body + 15]! << 8);
      keyAt = body + 16;
    } else {
      if ((type & KIND_MASK) === 0 || (type & ~(KIND_MASK | ABSOLUTE)) !== 0) return;
      const limit = at + Math.min(total, HEAD);
      if ((type & ABSOLUTE) !== 0) {
        shard = this.varint(b, body, limit);
        this.varint(b, this.next, limit);
        seq = this.varint(b, this.next, limit);
      } else {
        shard = this.shard;
        seq = this.seq + this.varint(b, body, limit);
      }
      this.shard = shard;
      this.seq = seq;
      keyLength = this.varint(b, this.next, limit);
      keyAt = this.next;
    }
    if (seq <= (this.last[shard] ?? 0)) this.disorder++;
    this.last[shard] = seq;
    if ((type & KIND_MASK) !== TYPE_PUT) return;
    this.count++;
    if (this.onKey !== undefined)
      this.onKey(b.toString('latin1', keyAt, keyAt + Math.min(keyLength, KEY_PEEK)));
  }
}
