/**
 * SlotGate's answer to readers of many slots (src/server/slot-gate.ts): a scan or a watch reads
 * whole stores, so one disputed slot among a store's slots refuses it, while a prefix holding a
 * hash tag reads only its one slot. With nothing disputed, nothing is refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { slotOf } from '../../src/routing/slot.js';
import { SlotGate } from '../../src/server/slot-gate.js';
import { keyInSlots } from '../helpers/slot-keys.js';

const A = '127.0.0.1:7001';
const B = '127.0.0.1:7002';

/** tagIn returns a hash tag `{tN}` whose slot is in first..last. */
function tagIn(first: number, last: number): string {
  return keyInSlots(first, last, (i) => `{t${i}}`);
}

/** gate refuses 5461-8191 and 10923-16383, disputed with B (A's three shards against B's two). */
function gate(): SlotGate {
  const g = new SlotGate('mine');
  g.set([
    {
      peer: B,
      version: 'theirs',
      ranges: [
        { first: 5461, last: 8191 },
        { first: 10923, last: 16383 },
      ],
      theirs: [
        { first: 0, last: 8191, leader: A },
        { first: 8192, last: 16383, leader: B },
      ],
      mine: [
        { first: 0, last: 5460, leader: A },
        { first: 5461, last: 10922, leader: B },
        { first: 10923, last: 16383, leader: A },
      ],
      silent: false,
    },
  ]);
  return g;
}

const shard0 = { first: 0, last: 5460 };
const shard1 = { first: 5461, last: 10922 };
const shard2 = { first: 10923, last: 16383 };
const none = Buffer.alloc(0);

describe('SlotGate and the readers of many slots', () => {
  it('refuses nothing while no slot is disputed', () => {
    const g = new SlotGate('mine');
    assert.equal(g.some, false);
    assert.equal(g.readRefusal('the scan', [shard0, shard1, shard2], none), undefined);
    assert.deepEqual(g.refused(), []);
  });

  it('refuses a store whose slots are all disputed, naming them, the peer and both configs', () => {
    const e = gate().readRefusal('the scan of shard 2', [shard2], none);
    assert.equal(e?.code, 'SLOTS_DISPUTED');
    assert.match(e.message, /^the scan of shard 2 would read slots 10923-16383, /);
    assert.match(e.message, new RegExp(`node ${B} \\(config theirs\\) disputes 10923-16383`));
    assert.match(e.message, /this node routes with config mine/);
  });

  it('refuses a store with some disputed slots, naming only those', () => {
    const e = gate().readRefusal('the scan of shard 1', [shard1], none);
    assert.match(e?.message ?? '', /would read slots 5461-8191, .*disputes 5461-8191;/);
  });

  it('serves a store none of whose slots is disputed', () => {
    assert.equal(gate().readRefusal('the scan of shard 0', [shard0], none), undefined);
    assert.deepEqual(gate().disputedReads([shard0, shard1], none), [{ first: 5461, last: 8191 }]);
  });

  it('reads one slot for a prefix with a hash tag: served when that slot is, even in a disputed store', () => {
    const served = tagIn(8192, 10922);
    const disputed = tagIn(5461, 8191);
    assert.equal(gate().readRefusal('the watch', [shard1], Buffer.from(`${served}:`)), undefined);
    const e = gate().readRefusal('the watch', [shard1], Buffer.from(`${disputed}:`));
    assert.equal(e?.message.includes(`would read slots ${slotOf(disputed)}, `), true, e?.message);
    assert.equal(
      gate().readRefusal('the watch', [shard0], Buffer.from(`${disputed}:`)),
      undefined,
      "the tag's slot is not among the stores read",
    );
  });

  it('lists every refused slot, merged, for the cluster commands', () => {
    assert.deepEqual(gate().refused(), [
      { first: 5461, last: 8191 },
      { first: 10923, last: 16383 },
    ]);
  });
});
