import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { Xxh64 } from '../../src/routing/xxh64.js';
import { SLOT_COUNT, SlotHasher, slotOf } from '../../src/routing/slot.js';

const require = createRequire(import.meta.url);
const { XXHash64 } = require('xxhash-addon') as { XXHash64: { hash(b: Buffer): Buffer } };

function hex(x: Xxh64, bytes: Uint8Array): string {
  const out = x.hash(bytes, bytes.length, { hi: 0, lo: 0 });
  return out.hi.toString(16).padStart(8, '0') + out.lo.toString(16).padStart(8, '0');
}

describe('xxh64', () => {
  it('matches the reference vectors for "" and "abc"', () => {
    const x = new Xxh64();
    assert.equal(hex(x, Buffer.from('')), 'ef46db3751d8e999');
    assert.equal(hex(x, Buffer.from('abc')), '44bc2cf5ad770999');
  });

  it('matches the xxhash-addon on 5000 random inputs of every length class', () => {
    const x = new Xxh64();
    for (let n = 0; n < 5000; n++) {
      const len = n < 300 ? n : Math.floor(Math.random() * 2048);
      const b = Buffer.alloc(len);
      for (let i = 0; i < len; i++) b[i] = Math.floor(Math.random() * 256);
      assert.equal(hex(x, b), XXHash64.hash(b).toString('hex'), `length ${len}`);
    }
  });
});

describe('slotOf', () => {
  it('hashes strings as their UTF-8 bytes, for ASCII and non-ASCII keys alike', () => {
    const h = new SlotHasher();
    for (const key of ['a', 'user:42', 'clé', '键', '😀 emoji', 'x'.repeat(1024), 'é'.repeat(1000)]) {
      const expected = XXHash64.hash(Buffer.from(key, 'utf8')).readUInt16BE(6) & (SLOT_COUNT - 1);
      assert.equal(h.slotOf(key), expected, key.slice(0, 20));
      assert.equal(slotOf(key), expected);
    }
  });

  it('spreads 100k keys over the slots within 25% of uniform per quarter', () => {
    const quarters = [0, 0, 0, 0];
    for (let i = 0; i < 100000; i++) quarters[Math.floor(slotOf(`key${i}`) / (SLOT_COUNT / 4))]!++;
    for (const q of quarters) assert.ok(q > 18750 && q < 31250, `quarter count ${q}`);
  });
});
