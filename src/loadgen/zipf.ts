/**
 * Key choosers for the load generator: uniform, and zipfian with exponent `s`: rank 0 is the most
 * popular key, rank r is chosen with probability ∝ 1/(r+1)^s. Ranks are scattered over the key space
 * by a fixed permutation so the hot keys do not sit next to each other. Each generator owns a
 * seeded PRNG so runs are repeatable.
 */

/** Rng is a seeded 32-bit PRNG (mulberry32) returning floats in [0, 1). */
export class Rng {
  private s: number;

  constructor(seed: number) {
    this.s = seed >>> 0;
  }

  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** KeyChooser picks a key index in [0, n). */
export interface KeyChooser {
  next(): number;
}

/** UniformChooser picks every key with the same probability. */
export class UniformChooser implements KeyChooser {
  private readonly rng: Rng;
  private readonly n: number;

  constructor(n: number, seed: number) {
    this.n = n;
    this.rng = new Rng(seed);
  }

  next(): number {
    return Math.floor(this.rng.next() * this.n);
  }
}

/**
 * ZipfChooser picks key ranks with a zipfian distribution of exponent `s` by inverting the exact
 * cumulative distribution (a Float64Array of n entries, binary-searched: ~17 steps for 100k keys).
 * YCSB's closed-form approximation was tried first and is off by 17% at rank 2.
 */
export class ZipfChooser implements KeyChooser {
  private readonly rng: Rng;
  private readonly n: number;
  private readonly cdf: Float64Array;
  private readonly scatter: boolean;

  constructor(n: number, s: number, seed: number, scatter = true) {
    if (!(s > 0)) throw new RangeError(`zipf exponent must be > 0, got ${s}`);
    this.n = n;
    this.scatter = scatter;
    this.rng = new Rng(seed);
    this.cdf = zipfCdf(n, s);
  }

  /** probability returns the exact chance of rank `r` (tests compare the sampled skew with it). */
  probability(r: number): number {
    return this.cdf[r]! - (r === 0 ? 0 : this.cdf[r - 1]!);
  }

  /** nextRank returns a rank (0 = most popular) without scattering. */
  nextRank(): number {
    const u = this.rng.next();
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cdf[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  next(): number {
    const r = this.nextRank();
    return this.scatter ? scatterIndex(r, this.n) : r;
  }
}

const cdfs = new Map<string, Float64Array>();

/** zipfCdf returns the cumulative distribution of ranks 0..n-1 (shared by every chooser of a thread). */
function zipfCdf(n: number, s: number): Float64Array {
  const id = `${n}/${s}`;
  let cdf = cdfs.get(id);
  if (cdf === undefined) {
    cdf = new Float64Array(n);
    let sum = 0;
    for (let i = 0; i < n; i++) cdf[i] = sum += 1 / (i + 1) ** s;
    for (let i = 0; i < n; i++) cdf[i]! /= sum;
    cdfs.set(id, cdf);
  }
  return cdf;
}

/** scatterIndex maps rank r to a key index by a fixed affine permutation of [0, n). */
export function scatterIndex(r: number, n: number): number {
  // x → a·x + c mod 2^k with odd a is a bijection of [0, 2^k); values ≥ n are stepped past (cycle walking).
  let mask = 1;
  while (mask < n) mask *= 2;
  mask -= 1;
  let x = r;
  do x = ((Math.imul(x, 0x9e3779b1) + 40503) >>> 0) & mask;
  while (x >= n);
  return x;
}

/** chooserFor builds the chooser of a `--dist` value ("uniform" or "zipf:0.99"). */
export function chooserFor(dist: string, n: number, seed: number): KeyChooser {
  if (dist === 'uniform') return new UniformChooser(n, seed);
  const m = /^zipf(?::([0-9.]+))?$/.exec(dist);
  if (m !== null) return new ZipfChooser(n, Number(m[1] ?? '0.99'), seed);
  throw new RangeError(`--dist must be uniform or zipf:S (e.g. zipf:0.99), got "${dist}"`);
}
