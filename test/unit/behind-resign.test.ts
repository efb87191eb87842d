/**
 * resignFor (src/coordination/behind-resign.ts): a leader held behind a replica gives up its
 * leader key only on etcd's word, a live member's published seq above its own; a sighting alone
 * (a pull or a peer's `/cluster`, forgeable without a node token) keeps the key.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resignFor } from '../../src/coordination/behind-resign.js';

const A = '127.0.0.1:7001';
const B = '127.0.0.2:7001';
const C = '127.0.0.3:7001';
const held = { replica: B, seq: 50, leaderSeq: 10 };

describe('resignFor', () => {
  it('keeps the key of a leader not held', () => {
    assert.equal(resignFor(A, undefined, [{ address: B, seq: 50 }]), undefined);
  });

  it('keeps the key while no other member published a seq above the leader', () => {
    assert.equal(resignFor(A, held, []), undefined);
    assert.equal(
      resignFor(A, held, [{ address: A, seq: 99 }]),
      undefined,
      "the leader's own entry counts not",
    );
    assert.equal(
      resignFor(A, held, [
        { address: B, seq: 10 },
        { address: C, seq: 3 },
      ]),
      undefined,
      'a forged sighting: the replicas published no more than the leader holds',
    );
  });

  it('names the most advanced member above the leader', () => {
    assert.deepEqual(
      resignFor(A, held, [
        { address: A, seq: 10 },
        { address: B, seq: 40 },
        { address: C, seq: 50 },
      ]),
      { address: C, seq: 50 },
    );
    assert.deepEqual(resignFor(A, { ...held, leaderSeq: 0 }, [{ address: B, seq: 1 }]), {
      address: B,
      seq: 1,
    });
  });
});
