/**
 * Probes of the linearizability checker (test/helpers/linearizability.ts): hand-made histories that
 * no register (or no distkv failover) can give, each of which the checker must refuse, and one
 * linearizable history it must accept. The second suite's cases were gaps a review found: the first
 * four histories passed the checker before, the last one was refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { failover, found, get, ok, op, put, unknown } from '../helpers/history-builders.js';
import { checkHistory } from '../helpers/linearizability.js';

describe('linearizability checker probes: rules it keeps', () => {
  it('refuses a lost write seen before the failover and again after it', () => {
    const h = [
      op(0, 1, put('a'), ok('1.1')),
      op(2, 3, put('b'), unknown),
      op(4, 5, get, found('b', '1.2')),
      failover(10, 20, '1.1'),
      op(30, 31, get, found('b', '1.2')),
    ];
    assert.equal(checkHistory(h).ok, false);
  });

  it('refuses a read of the fork state between two reads of a lost write', () => {
    const h = [
      op(0, 1, put('a'), ok('1.1')),
      op(2, 3, put('b'), unknown),
      op(4, 5, get, found('b', '1.2')),
      op(6, 7, get, found('a', '1.1')),
      op(8, 9, get, found('b', '1.2')),
      failover(10, 20, '1.1'),
    ];
    assert.equal(checkHistory(h).ok, false);
  });

  it('refuses a write applied twice (seen, overwritten, seen again)', () => {
    const h = [
      op(0, 1, put('a'), unknown),
      op(2, 3, get, found('a', '1.1')),
      op(4, 5, put('b'), ok('1.2')),
      op(6, 7, get, found('a', '1.3')),
    ];
    assert.equal(checkHistory(h).ok, false);
  });

  it('refuses an acknowledged write above the fork, overwritten after the failover and never read', () => {
    // Unlike the gap below, b answered before the failover: it must be placed in phase 1.
    const h = [
      op(0, 1, put('a'), ok('1.1')),
      op(2, 3, put('b'), ok('1.2')),
      failover(10, 20, '1.1'),
      op(30, 31, put('c'), ok('2.1')),
      op(32, 33, get, found('c', '2.1')),
    ];
    assert.equal(checkHistory(h).ok, false);
  });
});

describe('linearizability checker probes: gaps a review found (each failed before the fix)', () => {
  it('refuses an acknowledged write in the old epoch above the fork after the failover (split brain, overwritten)', () => {
    // The old leader (epoch 1) acknowledges X at 1.12 after the new leader (epoch 2, fork 1.10)
    // took over; the new leader's write Y overwrites it before anyone reads X. The new leader's
    // log cannot hold 1.12: X was acknowledged and lost, as an 'ok' write above the fork placed
    // before the failover would be (refused above). After the failover the phase-2 state accepted
    // any rising version.
    const h = [
      op(0, 1, put('a'), ok('1.5')),
      failover(10, 20, '1.10'),
      op(25, 26, put('x'), ok('1.12')),
      op(40, 41, put('y'), ok('2.1')),
      op(50, 51, get, found('y', '2.1')),
    ];
    assert.equal(checkHistory(h).ok, false, 'an acknowledged write in the old epoch above the fork survived');
  });

  it("refuses an acknowledged write of the old leader's epoch after the failover when it is above the fork's epoch", () => {
    // The old leader wrote in epoch 3 from seq 11 on, but the new leader (epoch 4) only had up to
    // 1.10: its fork is in epoch 1. The failover op's epoch says which versions the new leader
    // gives; without it, epoch 3 would pass as newer than the fork's.
    const h = [
      op(0, 1, put('a'), ok('1.5')),
      failover(10, 20, '1.10', 4),
      op(25, 26, put('x'), ok('3.12')),
      op(40, 41, put('y'), ok('4.11')),
      op(50, 51, get, found('y', '4.11')),
    ];
    assert.equal(checkHistory(h).ok, false, "an acknowledged write of the old leader's epoch survived");
    const kept = [
      op(0, 1, put('a'), ok('1.5')),
      failover(10, 20, '1.10', 4),
      op(25, 26, put('y'), ok('4.11')),
    ];
    const v = checkHistory(kept);
    assert.ok(v.ok, v.ok ? '' : v.report);
  });

  it('refuses a read after the failover naming a kept unknown write with a version above the fork', () => {
    // 'a' was an unknown write kept by the failover (placed at or below the fork), so its version
    // is at most 1.10; a read after the failover names it 1.12.
    const h = [op(0, 1, put('a'), unknown), failover(10, 20, '1.10'), op(30, 31, get, found('a', '1.12'))];
    assert.equal(checkHistory(h).ok, false, 'a kept write was named with a version above the fork');
  });

  it('refuses a 412 naming as current the very version its If-Match gave', () => {
    // Whatever the register holds, "current = 1.5" contradicts "If-Match 1.5 did not hold".
    const h = [
      op(0, 1, put('a'), unknown),
      op(10, 11, put('b', { ifMatch: '1.5' }), { kind: 'failed', current: '1.5' }),
    ];
    assert.equal(checkHistory(h).ok, false, 'a 412 whose current equals its If-Match passed');
  });

  it('refuses a compare-and-set applied with a version below the one it matched', () => {
    // For If-Match 1.9 to hold, 'a' had version 1.9; 'b' written over it cannot be 1.8.
    const h = [
      op(0, 1, put('a'), unknown),
      op(10, 11, put('b', { ifMatch: '1.9' }), ok('1.8')),
      op(20, 21, get, found('b', '1.8')),
    ];
    assert.equal(checkHistory(h).ok, false, 'a version fell across a compare-and-set');
  });

  it('tells a key holding the text "null" from a missing key (its memo key)', () => {
    // Linearizable: the delete, then the put of "null", then the read. Both writes answered
    // without a version (a batch's result, a delete) and concurrent, so the search meets the two
    // orders at the same placed set; the memo key writes both registers as "null", and the order
    // explored first (put, then delete: a missing key) hides the other. This one is a false
    // failure, not a miss.
    const h = [
      op(0, 10, { kind: 'delete' }, ok()),
      op(0, 10, put('null'), ok()),
      op(20, 21, get, found('null', '1.3')),
    ];
    const v = checkHistory(h);
    assert.ok(v.ok, v.ok ? '' : v.report);
  });
});
