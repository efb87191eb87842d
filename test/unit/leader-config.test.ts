/**
 * leaderConfigFor (src/replication/leader-config.ts): a replica pulls under its leader's config
 * hash only when the leader's `/cluster` gives the shard the same index, name, slots and leader,
 * with this replica among its replicas; anything else keeps the leader's CONFIG_MISMATCH refusal.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { leaderConfigFor, type ShardCopy } from '../../src/replication/leader-config.js';

const want: ShardCopy = { idx: 1, name: 'shard-1', first: 8192, last: 16383, leader: 'a:1', replica: 'b:1' };

/** doc is a `/cluster` answer whose shard 1 is `shard` over the matching defaults. */
function doc(shard: Record<string, unknown> = {}, version: unknown = 'h2'): unknown {
  return {
    version,
    shards: [
      {
        idx: 0,
        name: 'shard-0',
        slots: [0, 8191],
        leader: { address: 'b:1' },
        replicas: [{ address: 'a:1' }],
      },
      {
        idx: 1,
        name: 'shard-1',
        slots: [8192, 16383],
        leader: { address: 'a:1', local: true },
        replicas: [{ address: 'b:1', local: false }, { address: 'c:1' }],
        ...shard,
      },
    ],
  };
}

describe('leaderConfigFor', () => {
  it("answers the leader's hash when its config gives the shard the same slots, leader and replica", () => {
    assert.equal(leaderConfigFor(doc(), want), 'h2');
  });

  it('keeps the refusal for another slot range, name, leader or replica list', () => {
    assert.equal(leaderConfigFor(doc({ slots: [8192, 16000] }), want), undefined, 'other slots');
    assert.equal(leaderConfigFor(doc({ slots: [8000, 16383] }), want), undefined, 'other slots');
    assert.equal(leaderConfigFor(doc({ name: 'other' }), want), undefined, 'other name');
    assert.equal(leaderConfigFor(doc({ leader: { address: 'c:1' } }), want), undefined, 'another leader');
    assert.equal(leaderConfigFor(doc({ replicas: [{ address: 'c:1' }] }), want), undefined, 'not listed');
    assert.equal(leaderConfigFor(doc({ idx: 2 }), want), undefined, 'no shard of that index');
  });

  it('keeps the refusal for an answer it cannot read', () => {
    for (const d of [
      undefined,
      null,
      'x',
      {},
      { version: 'h2' },
      doc({}, 7),
      doc({}, ''),
      doc({ slots: 'x' }),
    ])
      assert.equal(leaderConfigFor(d, want), undefined, JSON.stringify(d));
  });
});
