/**
 * Keys chosen by their slot, for tests about slot ranges (slot disputes, cluster replies).
 */
import { slotOf } from '../../src/routing/slot.js';

/**
 * keyInSlots returns the first of `name(0)`, `name(1)`, ... whose slot is in first..last (by
 * default `k0`, `k1`, ...; `(i) => `{t${i}}`` gives a hash tag to put at the start of keys).
 */
export function keyInSlots(first: number, last: number, name = (i: number) => `k${i}`): string {
  for (let i = 0; i < 1_000_000; i++) {
    const s = slotOf(name(i));
    if (s >= first && s <= last) return name(i);
  }
  throw new Error(`no key found in slots ${first}-${last}`);
}
