/**
 * Slot hashing: `slot = xxh64(utf8(key)) mod 16384`, the one routing function used by the server, the
 * client library and the load generator.
 *
 * `SlotHasher` keeps a scratch byte buffer and hash registers, so one instance serves one thread.
 */
import { type U64, Xxh64 } from './xxh64.js';

/** SLOT_COUNT is the number of hash slots the key space is divided into. */
export const SLOT_COUNT = 16384;

const SCRATCH_BYTES = 4096;

/** SlotHasher maps keys to slots without allocating for keys up to 1365 UTF-16 units. */
export class SlotHasher {
  private readonly xxh = new Xxh64();
  private readonly out: U64 = { hi: 0, lo: 0 };
  private readonly scratch = new Uint8Array(SCRATCH_BYTES);
  private readonly encoder = new TextEncoder();

  /** slotOfBytes returns the slot of a key given as its UTF-8 bytes. */
  slotOfBytes(bytes: Uint8Array): number {
    return this.xxh.hash(bytes, bytes.length, this.out).lo & (SLOT_COUNT - 1);
  }

  /** slotOf returns the slot of a key given as a string (hashed as UTF-8). */
  slotOf(key: string): number {
    const n = key.length;
    const buf = this.scratch;
    if (n <= SCRATCH_BYTES) {
      let i = 0;
      for (; i < n; i++) {
        const c = key.charCodeAt(i);
        if (c > 0x7f) break;
        buf[i] = c;
      }
      if (i === n) return this.xxh.hash(buf, n, this.out).lo & (SLOT_COUNT - 1);
      if (n * 3 <= SCRATCH_BYTES) {
        const { written } = this.encoder.encodeInto(key, buf);
        return this.xxh.hash(buf, written, this.out).lo & (SLOT_COUNT - 1);
      }
    }
    return this.slotOfBytes(this.encoder.encode(key));
  }
}

// One hasher per thread: each worker thread loads its own copy of this module, and calls never
// interleave within a thread, so the scratch state inside it is never shared.
const THREAD_HASHER = new SlotHasher();

/** slotOf returns the slot of `key` (a string, hashed as UTF-8) using this thread's hasher. */
export function slotOf(key: string): number {
  return THREAD_HASHER.slotOf(key);
}

/** slotOfBytes returns the slot of a key given as UTF-8 bytes using this thread's hasher. */
export function slotOfBytes(key: Uint8Array): number {
  return THREAD_HASHER.slotOfBytes(key);
}
