/**
 * The slots two configs dispute (src/routing/slot-dispute.ts): those whose leader differs, or that
 * one layout leaves out. Checked against a model that writes each layout out slot by slot, on
 * random layouts whose boundaries include both ends and single-slot ranges, over a few addresses
 * so that many slots agree.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  disputedRanges,
  formatRanges,
  type LeaderRange,
  layoutOfCluster,
  leaderAt,
  slotCount,
} from '../../src/routing/slot-dispute.js';
import { SLOT_COUNT } from '../../src/routing/slot.js';
import { testSeed } from '../helpers/random.js';

const LEADERS = ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'];

/** cuts are where ranges start: 0 always, then the boundaries (biased to the ends and neighbours). */
const cutsArb = fc
  .array(
    fc.oneof(
      fc.integer({ min: 1, max: SLOT_COUNT - 1 }),
      fc.constantFrom(1, 2, SLOT_COUNT - 1, SLOT_COUNT - 2, 5461, 5462, 8192, 10923),
    ),
    { maxLength: 12 },
  )
  .map((xs) => [0, ...new Set(xs)].sort((a, b) => a - b));

/** layoutArb is a whole layout (every slot led), or with `gaps` some of its ranges left out. */
function layoutArb(gaps: boolean): fc.Arbitrary<LeaderRange[]> {
  return cutsArb.chain((starts) =>
    fc
      .array(fc.record({ leader: fc.constantFrom(...LEADERS), kept: fc.boolean() }), {
        minLength: starts.length,
        maxLength: starts.length,
      })
      .map((picks) =>
        starts
          .map((first, i) => ({
            first,
            last: (starts[i + 1] ?? SLOT_COUNT) - 1,
            leader: picks[i]!.leader,
            kept: !gaps || picks[i]!.kept,
          }))
          .filter((r) => r.kept)
          .map(({ first, last, leader }) => ({ first, last, leader })),
      ),
  );
}

/** model writes both layouts out per slot and lists the slots whose leaders are not one and the same. */
function model(mine: readonly LeaderRange[], theirs: readonly LeaderRange[]): number[] {
  const perSlot = (layout: readonly LeaderRange[]): (string | undefined)[] => {
    const out = new Array<string | undefined>(SLOT_COUNT).fill(undefined);
    for (const r of layout) for (let s = r.first; s <= r.last; s++) out[s] = r.leader;
    return out;
  };
  const a = perSlot(mine);
  const b = perSlot(theirs);
  const disputed: number[] = [];
  for (let s = 0; s < SLOT_COUNT; s++) if (a[s] === undefined || a[s] !== b[s]) disputed.push(s);
  return disputed;
}

describe('slot disputes between two configs', () => {
  it('disputes exactly the slots whose leaders differ or that one side leaves out, as sorted merged ranges (seeded property)', () => {
    fc.assert(
      fc.property(layoutArb(true), layoutArb(true), fc.boolean(), (mine, theirs, shuffle) => {
        const ranges = disputedRanges(shuffle ? [...mine].reverse() : mine, theirs);
        const slots = ranges.flatMap((r) =>
          Array.from({ length: r.last - r.first + 1 }, (_, i) => r.first + i),
        );
        assert.deepEqual(slots, model(mine, theirs));
        assert.equal(slotCount(ranges), slots.length);
        for (const [i, r] of ranges.entries()) {
          assert.ok(r.first <= r.last, `range ${i} is not empty`);
          if (i > 0) assert.ok(r.first > ranges[i - 1]!.last + 1, `range ${i} is apart from the one before`);
        }
        // Symmetric when both sides lead every slot: each node refuses the same slots.
        if (slotCount(mine) === SLOT_COUNT && slotCount(theirs) === SLOT_COUNT)
          assert.deepEqual(disputedRanges(theirs, mine), ranges);
      }),
      { seed: testSeed(), numRuns: 300 },
    );
  });

  it('disputes only the slots that move when three shards become two', () => {
    const [a, b, c] = LEADERS as [string, string, string];
    const three = [
      { first: 0, last: 5460, leader: a },
      { first: 5461, last: 10922, leader: b },
      { first: 10923, last: 16383, leader: c },
    ];
    const two = [
      { first: 0, last: 8191, leader: a },
      { first: 8192, last: 16383, leader: b },
    ];
    assert.equal(formatRanges(disputedRanges(three, two)), '5461-8191,10923-16383');
    assert.deepEqual(disputedRanges(three, three), []);
    assert.equal(leaderAt(two, 8191), a);
    assert.equal(leaderAt(two, 8192), b);
  });

  it("reads a peer's /cluster shards, and refuses a layout it cannot trust", () => {
    const doc = {
      version: 'x',
      shards: [
        { idx: 1, slots: [8192, 16383], leader: { address: 'b:1', local: false } },
        { idx: 0, slots: [0, 8191], leader: { address: 'a:1', local: true } },
      ],
    };
    assert.deepEqual(layoutOfCluster(doc), [
      { first: 0, last: 8191, leader: 'a:1' },
      { first: 8192, last: 16383, leader: 'b:1' },
    ]);
    const bad = (shards: unknown): void => {
      assert.equal(layoutOfCluster({ shards }), undefined, JSON.stringify(shards));
    };
    bad(undefined);
    bad([{ slots: [0, 16384], leader: { address: 'a:1' } }]);
    bad([{ slots: [10, 9], leader: { address: 'a:1' } }]);
    bad([{ slots: [0, 10], leader: {} }]);
    bad([
      { slots: [0, 10], leader: { address: 'a:1' } },
      { slots: [10, 20], leader: { address: 'b:1' } },
    ]);
    assert.equal(layoutOfCluster(null), undefined);
  });
});
