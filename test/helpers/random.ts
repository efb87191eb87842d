/**
 * A seeded PRNG (mulberry32) so randomized tests can be replayed: each prints its seed on failure.
 */

/** seededRandom returns a function yielding floats in [0, 1) from `seed`. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** testSeed returns DISTKV_SEED from the environment, or a fresh random seed. */
export function testSeed(): number {
  const fromEnv = process.env.DISTKV_SEED;
  return fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31);
}
