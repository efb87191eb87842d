/**
 * Slot range arithmetic (src/routing/slot-dispute.ts) that the readers of many slots and the RESP
 * cluster commands use on disputed slots: merge, intersect, subtract, and reading back what
 * formatRanges writes. Checked against a model that writes each set out slot by slot, on random
 * overlapping ranges biased to both ends and to single slots.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  formatRanges,
  intersectRanges,
  mergeRanges,
  parseRanges,
  type SlotRange,
  subtractRanges,
} from '../../src/routing/slot-dispute.js';
import { SLOT_COUNT } from '../../src/routing/slot.js';
import { testSeed } from '../helpers/random.js';

const slotArb = fc.oneof(
  fc.integer({ min: 0, max: SLOT_COUNT - 1 }),
  fc.constantFrom(0, 1, 2, SLOT_COUNT - 2, SLOT_COUNT - 1, 5460, 5461, 8191, 8192),
);
const rangeArb: fc.Arbitrary<SlotRange> = fc
  .tuple(slotArb, fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 9000 })))
  .map(([first, len]) => ({ first, last: Math.min(SLOT_COUNT - 1, first + len) }));
const rangesArb = fc.array(rangeArb, { maxLength: 8 });

/** slotsOf writes ranges out as a sorted list of distinct slots (the model). */
function slotsOf(ranges: readonly SlotRange[]): number[] {
  const set = new Uint8Array(SLOT_COUNT);
  for (const r of ranges) set.fill(1, r.first, r.last + 1);
  return [...set.keys()].filter((s) => set[s] === 1);
}

/** assertCanonical checks ranges are sorted, non-empty, and apart (adjacent ones merged). */
function assertCanonical(ranges: readonly SlotRange[]): void {
  for (const [i, r] of ranges.entries()) {
    assert.ok(r.first <= r.last, `range ${i} is not empty`);
    if (i > 0) assert.ok(r.first > ranges[i - 1]!.last + 1, `range ${i} is apart from the one before`);
  }
}

describe('slot range arithmetic', () => {
  it('merges, intersects and subtracts exactly as the slot-by-slot model, in canonical form (seeded property)', () => {
    fc.assert(
      fc.property(rangesArb, rangesArb, (a, b) => {
        const sa = new Set(slotsOf(a));
        const sb = new Set(slotsOf(b));
        const merged = mergeRanges(a);
        const both = intersectRanges(a, b);
        const rest = subtractRanges(a, b);
        for (const r of [merged, both, rest]) assertCanonical(r);
        assert.deepEqual(
          slotsOf(merged),
          [...sa].sort((x, y) => x - y),
        );
        assert.deepEqual(
          slotsOf(both),
          [...sa].filter((s) => sb.has(s)).sort((x, y) => x - y),
        );
        assert.deepEqual(
          slotsOf(rest),
          [...sa].filter((s) => !sb.has(s)).sort((x, y) => x - y),
        );
        assert.deepEqual(parseRanges(formatRanges(merged)), merged.length === 0 ? undefined : merged);
      }),
      { seed: testSeed(), numRuns: 300 },
    );
  });

  it('reads back one slot and ranges, and refuses what formatRanges never writes', () => {
    assert.deepEqual(parseRanges('7,10-12'), [
      { first: 7, last: 7 },
      { first: 10, last: 12 },
    ]);
    for (const bad of ['', '5-', '-5', '12-10', '16384', '1,,2', 'a-b', '0-16384'])
      assert.equal(parseRanges(bad), undefined, bad);
  });
});
