/**
 * When a memtable keeps its keys in order (src/storage/memtable.ts, "Key order"): one ordered read
 * now and then (the expiry scan of a store that becomes leader) must not make every later new key
 * pay for an order, while scans interleaved with writes keep one (a tree) instead of sorting the
 * whole memtable per scan. Kept order shows in `memoryBytes` (ORDER_OVERHEAD per key).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ORDER_OVERHEAD, Memtable } from '../../src/storage/memtable.js';

const key = (i: number): string => `k${String(i).padStart(6, '0')}`;
const value = Buffer.from('v');

/** orderOverhead is what `m` holds for its key order beyond the same memtable holding none. */
function orderOverhead(m: Memtable, unordered: Memtable): number {
  return m.memoryBytes - unordered.memoryBytes;
}

describe('memtable key order', () => {
  it('keeps no order for the writes after a single ordered read', () => {
    const m = new Memtable();
    const plain = new Memtable();
    assert.equal([...m.entries()].length, 0); // e.g. the expiry scan of a new leader, memtable empty
    for (let i = 0; i < 2000; i++) {
      m.apply(key(i), i + 1, value);
      plain.apply(key(i), i + 1, value);
    }
    assert.equal(orderOverhead(m, plain), 0);
    // Still read in order when asked, with every key.
    assert.deepEqual(
      [...m.entries()].map(([k]) => k),
      Array.from({ length: 2000 }, (_, i) => key(i)),
    );
  });

  it('keeps an order (a tree) when scans are interleaved with writes, and every scan sees every key', () => {
    const m = new Memtable();
    const plain = new Memtable();
    for (let i = 0; i < 1000; i++) {
      m.apply(key(2 * i), i + 1, value);
      plain.apply(key(2 * i), i + 1, value);
    }
    for (let round = 0; round < 20; round++) {
      const seen = [...m.entries(key(0))].map(([k]) => k);
      assert.equal(seen.length, 1000 + round * 5);
      assert.deepEqual(seen, [...seen].sort());
      for (let j = 0; j < 5; j++) {
        const i = 1 + 2 * (round * 5 + j);
        m.apply(key(i), 5000 + i, value);
        plain.apply(key(i), 5000 + i, value);
      }
      if (round >= 2)
        assert.equal(orderOverhead(m, plain), (1005 + round * 5) * ORDER_OVERHEAD, `round ${round}`);
    }
  });
});
