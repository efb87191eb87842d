/**
 * The campaign gate after a cold start (src/coordination/campaign-gate.ts, docs/failover.md "A
 * cold restart of every member"): a process that has not seen its shard's leader key held since it
 * started does not campaign until every member but the map's leader has published its seq since it
 * started, or the key is seen held. Without it, the replica started first after every member was
 * killed led alone, and the writes it lacked went to the others' divergence files
 * (test/e2e/etcd-cold-restart-order.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CampaignGate } from '../../src/coordination/campaign-gate.js';

const TTL = 1000;
const TICK = 250;
const L = 'L:1';
const R1 = 'R1:1';
const R2 = 'R2:1';
const MEMBERS = [L, R1, R2];

/** look is one reconcile of R2 with the key missing: what it published, then whether the gate lets it and whom it waits for. */
function look(
  g: CampaignGate,
  published: string[],
  now: number,
  holder?: string,
): { may: boolean; unheard: string[] } {
  g.waitsForLapsed(0, published, L, R2, now);
  const may = g.mayCampaign(0, { epoch: 3, leader: L, holder }, now);
  return { may, unheard: g.unheard(0, MEMBERS, L, R2) };
}

describe('campaign gate after a cold start', () => {
  it('waits, without a time bound, for a member unheard since the start', () => {
    const g = new CampaignGate(TTL, TICK);
    assert.deepEqual(look(g, [R2], 0).unheard, [R1], 'the leader and itself are not waited for');
    const late = look(g, [R2], 3_600_000);
    assert.equal(late.may, true, "the gate's own TTL wait is long over");
    assert.deepEqual(late.unheard, [R1], 'still waiting an hour later');
    assert.equal(g.heldSince(0), false);
    g.close();
  });

  it('stops waiting once members appear, one by one, and names who is left', () => {
    const g = new CampaignGate(TTL, TICK);
    const members = ['L:1', 'R1:1', 'R2:1', 'R3:1'];
    const at = (published: string[], now: number) => {
      g.waitsForLapsed(0, published, L, R2, now);
      g.mayCampaign(0, { epoch: 3, leader: L, holder: undefined }, now);
      return g.unheard(0, members, L, R2);
    };
    assert.deepEqual(at([R2], 0), ['R1:1', 'R3:1']);
    assert.equal(g.waitChanged(0, ['R1:1', 'R3:1']), true, 'the first wait is said');
    assert.equal(g.waitChanged(0, ['R1:1', 'R3:1']), false, 'and not again while it stays');
    assert.deepEqual(at([R2, 'R3:1'], 2000), ['R1:1']);
    assert.equal(g.waitChanged(0, ['R1:1']), true, 'a member heard from changes it');
    assert.deepEqual(at([R2, 'R3:1', 'R1:1'], 4000), [], 'every member heard: the ranking decides');
    assert.equal(g.waitChanged(0, []), true, 'the end of the wait is said too');
    // A member heard once and gone again is the lapsed-member grace's, not an unbounded wait.
    assert.deepEqual(at([R2, 'R3:1'], 5000), []);
    assert.equal(g.waitsForLapsed(0, [R2, 'R3:1'], L, R2, 5000), true, 'R1 is waited for within the grace');
    g.close();
  });

  it('stops waiting once the key is seen held, and keeps the usual rules from then on', () => {
    const g = new CampaignGate(TTL, TICK);
    assert.deepEqual(look(g, [R2], 0).unheard, [R1]);
    // The leader, restarting, takes its key back.
    const held = look(g, [R2, L], 2000, L);
    assert.equal(held.may, false);
    assert.deepEqual(held.unheard, [], 'nothing more to wait for: the leader leads');
    assert.equal(g.heldSince(0), true);
    // It dies while R2 runs and R1 was never heard from: campaigned for a tick after it went, as
    // when a leader dies under running replicas (R1 down all along is a second failure).
    assert.equal(look(g, [R2], 3000).may, false);
    const after = look(g, [R2], 3000 + TICK);
    assert.equal(after.may, true);
    assert.deepEqual(after.unheard, []);
    // A new map epoch (another campaign) does not bring the cold-start wait back.
    g.waitsForLapsed(0, [R2], L, R2, 9000);
    g.mayCampaign(0, { epoch: 4, leader: R1, holder: undefined }, 9000);
    assert.deepEqual(g.unheard(0, MEMBERS, R1, R2), []);
    g.restart(0);
    assert.deepEqual(
      g.unheard(0, MEMBERS, R1, R2),
      [],
      'nor does a restart of the wait for a leader on another config',
    );
    g.close();
  });

  it('a key taken by another member (a forced failover naming it) ends the wait too', () => {
    const g = new CampaignGate(TTL, TICK);
    assert.deepEqual(look(g, [R2], 0).unheard, [R1]);
    // `distkv failover --force --to R1`: the map names R1 in a new epoch, and R1 takes its key.
    g.waitsForLapsed(0, [R2, R1], R1, R2, 2000);
    assert.equal(g.mayCampaign(0, { epoch: 70, leader: R1, holder: R1 }, 2000), false);
    assert.deepEqual(g.unheard(0, MEMBERS, R1, R2), []);
    g.close();
  });

  it("counts nothing seen in its first lease period: a dead leader's key and dead members' seqs left under leases nobody renews", () => {
    // Every member killed and restarted within a TTL: etcd still holds the dead leader's key and
    // the dead members' seqs until their leases run out (test/e2e/etcd-fast-restart-order).
    const g = new CampaignGate(TTL, TICK);
    const early = look(g, [R2, R1, L], 0, L);
    assert.equal(early.may, false);
    assert.deepEqual(early.unheard, [R1], "R1's seq seen at once may be a dead member's");
    assert.equal(g.heldSince(0), false, "and the key seen at once may be a dead leader's");
    // Still there just before the period ends (a lease of 1 s, the tick 250 ms): not counted.
    look(g, [R2, R1], TTL + TICK - 1, L);
    assert.equal(g.heldSince(0), false);
    // The leases ran out: the key is gone, and R1 never published again (it is still down).
    assert.equal(look(g, [R2], 5000).may, false, "the map's leader gets a whole TTL to take its key back");
    const gone = look(g, [R2], 5000 + TTL + TICK);
    assert.equal(gone.may, true, "the gate's own wait is over");
    assert.deepEqual(gone.unheard, [R1], 'R1 is still waited for');
    // Seen after the period, a seq was published by a live member since.
    assert.deepEqual(look(g, [R2, R1], 6000).unheard, []);
    g.close();
  });

  it('counts a key still held after its first lease period (renewed by a live leader)', () => {
    const g = new CampaignGate(2500, TICK);
    look(g, [R2], 0, L);
    look(g, [R2], 3000 + TICK - 1, L);
    assert.equal(g.heldSince(0), false, "etcd's lease is whole seconds: 2.5 s is granted as 3 s");
    look(g, [R2], 3000 + TICK, L);
    assert.equal(g.heldSince(0), true);
    g.close();
  });

  it('waits per shard', () => {
    const g = new CampaignGate(TTL, TICK);
    look(g, [R2], 0);
    look(g, [R2], 2000, L);
    assert.deepEqual(look(g, [R2], 2100).unheard, []);
    g.waitsForLapsed(1, [R2], L, R2, 2100);
    g.mayCampaign(1, { epoch: 3, leader: L, holder: undefined }, 2100);
    assert.deepEqual(g.unheard(1, MEMBERS, L, R2), [R1], 'shard 1 has not seen its key held');
    g.close();
  });
});
