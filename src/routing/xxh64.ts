/**
 * xxh64: the 64-bit xxHash of a byte string (seed 0), in plain JavaScript.
 *
 * Why not the xxhash-addon package: its per-call overhead (a native call that allocates a result
 * Buffer, plus Buffer.from(key)) measured ~1.1 µs per key, ten times the hash itself; routing runs on
 * every request, so this file computes the same function with 32-bit halves (docs/performance.md has
 * the numbers, test/unit/xxh64.test.ts checks it against the addon on random inputs).
 *
 * Every 64-bit value is carried as two unsigned 32-bit halves (hi, lo). Results of the 64-bit
 * helpers land in the fields of a `U64` scratch object owned by the caller: the hot path allocates
 * nothing.
 */

// PRIME64_1..5 split into 32-bit halves.
const P1_HI = 0x9e3779b1;
const P1_LO = 0x85ebca87;
const P2_HI = 0xc2b2ae3d;
const P2_LO = 0x27d4eb4f;
const P3_HI = 0x165667b1;
const P3_LO = 0x9e3779f9;
const P4_HI = 0x85ebca77;
const P4_LO = 0xc2b2ae63;
const P5_HI = 0x27d4eb2f;
const P5_LO = 0x165667c5;

/** U64 is a mutable 64-bit scratch value as two unsigned 32-bit halves. */
export interface U64 {
  hi: number;
  lo: number;
}

/** mul64 sets out = (ah:al * bh:bl) mod 2^64. */
function mul64(out: U64, ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff;
  const a1 = al >>> 16;
  const b0 = bl & 0xffff;
  const b1 = bl >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  out.lo = (((mid & 0xffff) << 16) | (p00 & 0xffff)) >>> 0;
  const carry = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  out.hi = (carry + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
}

/** add64 sets out = (ah:al + bh:bl) mod 2^64. */
function add64(out: U64, ah: number, al: number, bh: number, bl: number): void {
  const lo = al + bl;
  out.lo = lo >>> 0;
  out.hi = (ah + bh + (lo > 0xffffffff ? 1 : 0)) >>> 0;
}

/** rotl64 sets out = rotate-left(h:l, r) for 0 < r < 64. */
function rotl64(out: U64, h: number, l: number, r: number): void {
  if (r === 32) {
    out.hi = l;
    out.lo = h;
  } else if (r < 32) {
    out.hi = ((h << r) | (l >>> (32 - r))) >>> 0;
    out.lo = ((l << r) | (h >>> (32 - r))) >>> 0;
  } else {
    const s = r - 32;
    out.hi = ((l << s) | (h >>> (32 - s))) >>> 0;
    out.lo = ((h << s) | (l >>> (32 - s))) >>> 0;
  }
}

/** round64 sets out = rotl(acc + input * P2, 31) * P1, the xxh64 accumulator round. */
function round64(out: U64, accHi: number, accLo: number, inHi: number, inLo: number): void {
  mul64(out, inHi, inLo, P2_HI, P2_LO);
  add64(out, accHi, accLo, out.hi, out.lo);
  rotl64(out, out.hi, out.lo, 31);
  mul64(out, out.hi, out.lo, P1_HI, P1_LO);
}

/** mergeRound folds accumulator v into h: h = (h ^ round(0, v)) * P1 + P4; t is scratch. */
function mergeRound(h: U64, t: U64, v: U64): void {
  round64(t, 0, 0, v.hi, v.lo);
  mul64(h, (h.hi ^ t.hi) >>> 0, (h.lo ^ t.lo) >>> 0, P1_HI, P1_LO);
  add64(h, h.hi, h.lo, P4_HI, P4_LO);
}

function read32(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

/** Xxh64 hashes byte strings; one instance per thread, as it reuses its scratch registers. */
export class Xxh64 {
  // Scratch registers, overwritten by every call.
  private readonly t: U64 = { hi: 0, lo: 0 };
  private readonly h: U64 = { hi: 0, lo: 0 };
  private readonly v1: U64 = { hi: 0, lo: 0 };
  private readonly v2: U64 = { hi: 0, lo: 0 };
  private readonly v3: U64 = { hi: 0, lo: 0 };
  private readonly v4: U64 = { hi: 0, lo: 0 };

  /** hash sets `out` to xxh64(bytes[0..len), seed 0) and returns it. */
  hash(bytes: Uint8Array, len: number, out: U64): U64 {
    const t = this.t;
    const h = this.h;
    let p = 0;
    if (len >= 32) {
      const { v1, v2, v3, v4 } = this;
      add64(v1, P1_HI, P1_LO, P2_HI, P2_LO);
      v2.hi = P2_HI;
      v2.lo = P2_LO;
      v3.hi = 0;
      v3.lo = 0;
      // v4 = 0 - P1
      add64(v4, ~P1_HI >>> 0, ~P1_LO >>> 0, 0, 1);
      const limit = len - 32;
      do {
        round64(v1, v1.hi, v1.lo, read32(bytes, p + 4), read32(bytes, p));
        round64(v2, v2.hi, v2.lo, read32(bytes, p + 12), read32(bytes, p + 8));
        round64(v3, v3.hi, v3.lo, read32(bytes, p + 20), read32(bytes, p + 16));
        round64(v4, v4.hi, v4.lo, read32(bytes, p + 28), read32(bytes, p + 24));
        p += 32;
      } while (p <= limit);
      rotl64(h, v1.hi, v1.lo, 1);
      rotl64(t, v2.hi, v2.lo, 7);
      add64(h, h.hi, h.lo, t.hi, t.lo);
      rotl64(t, v3.hi, v3.lo, 12);
      add64(h, h.hi, h.lo, t.hi, t.lo);
      rotl64(t, v4.hi, v4.lo, 18);
      add64(h, h.hi, h.lo, t.hi, t.lo);
      mergeRound(h, t, v1);
      mergeRound(h, t, v2);
      mergeRound(h, t, v3);
      mergeRound(h, t, v4);
    } else {
      h.hi = P5_HI;
      h.lo = P5_LO;
    }
    // h += len (len < 2^32)
    add64(h, h.hi, h.lo, 0, len);
    while (p + 8 <= len) {
      round64(t, 0, 0, read32(bytes, p + 4), read32(bytes, p));
      rotl64(h, (h.hi ^ t.hi) >>> 0, (h.lo ^ t.lo) >>> 0, 27);
      mul64(h, h.hi, h.lo, P1_HI, P1_LO);
      add64(h, h.hi, h.lo, P4_HI, P4_LO);
      p += 8;
    }
    if (p + 4 <= len) {
      mul64(t, 0, read32(bytes, p), P1_HI, P1_LO);
      rotl64(h, (h.hi ^ t.hi) >>> 0, (h.lo ^ t.lo) >>> 0, 23);
      mul64(h, h.hi, h.lo, P2_HI, P2_LO);
      add64(h, h.hi, h.lo, P3_HI, P3_LO);
      p += 4;
    }
    while (p < len) {
      mul64(t, 0, bytes[p]!, P5_HI, P5_LO);
      rotl64(h, (h.hi ^ t.hi) >>> 0, (h.lo ^ t.lo) >>> 0, 11);
      mul64(h, h.hi, h.lo, P1_HI, P1_LO);
      p++;
    }
    // Avalanche: h ^= h >>> 33; h *= P2; h ^= h >>> 29; h *= P3; h ^= h >>> 32.
    h.lo = (h.lo ^ (h.hi >>> 1)) >>> 0;
    mul64(h, h.hi, h.lo, P2_HI, P2_LO);
    const lo29 = ((h.lo >>> 29) | (h.hi << 3)) >>> 0;
    h.hi = (h.hi ^ (h.hi >>> 29)) >>> 0;
    h.lo = (h.lo ^ lo29) >>> 0;
    mul64(h, h.hi, h.lo, P3_HI, P3_LO);
    out.hi = h.hi;
    out.lo = (h.lo ^ h.hi) >>> 0;
    return out;
  }
}
