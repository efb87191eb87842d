/**
 * The key space of the storage read benches: the stores hold STORED_N 16-byte latin1 keys
 * `key:<12 digits>` (the even numbers) with 100-byte values; the odd numbers between them are the
 * absent keys, so a miss lands between two present keys.
 */

/** STORED_N is how many keys a store holds. */
export const STORED_N = 100_000;

/** storedKey is key number `n` of the key space. */
export const storedKey = (n: number): string => `key:${String(n).padStart(12, '0')}`;

/** PRESENT_KEYS are the STORED_N stored keys, ascending. */
export const PRESENT_KEYS: readonly string[] = Array.from({ length: STORED_N }, (_, n) => storedKey(2 * n));

/** ABSENT_KEYS are STORED_N keys never stored, each just above a present one. */
export const ABSENT_KEYS: readonly string[] = Array.from({ length: STORED_N }, (_, n) =>
  storedKey(2 * n + 1),
);

/** STORED_VALUE is every stored key's value. */
export const STORED_VALUE = Buffer.alloc(100, 0x61);
