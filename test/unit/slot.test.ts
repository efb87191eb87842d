import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc16 } from '../../src/routing/crc16.js';
import { prefixSlot, SLOT_COUNT, SlotHasher, slotOf, slotOfBytes } from '../../src/routing/slot.js';
import { seededRandom, testSeed } from '../helpers/random.js';

// Expected slots are what redis-server 7.0 answers to CLUSTER KEYSLOT for the same keys.
const REDIS_KEYSLOT: readonly [string, number][] = [
  ['foo', 12182],
  ['bar', 5061],
  ['hello', 866],
  ['123456789', 12739],
  ['{user1000}.following', 3443],
  ['{user1000}.followers', 3443],
  ['foo{}{bar}', 8363],
  ['foo{{bar}}zap', 4015],
  ['foo{bar}{zap}', 5061],
  ['{}', 15257],
  ['ключ', 10303],
  ['', 0],
];

/** slotByDefinition is the Redis Cluster slot function written as plainly as possible. */
function slotByDefinition(bytes: Uint8Array): number {
  let crc = 0;
  const hashed = (() => {
    const open = bytes.indexOf(0x7b);
    if (open < 0) return bytes;
    const close = bytes.indexOf(0x7d, open + 1);
    return close > open + 1 ? bytes.subarray(open + 1, close) : bytes;
  })();
  for (const b of hashed) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % SLOT_COUNT;
}

describe('crc16', () => {
  it('has the XMODEM check value 0x31C3 for "123456789"', () => {
    assert.equal(crc16(Buffer.from('123456789')), 0x31c3);
  });

  it('hashes only the given range', () => {
    assert.equal(crc16(Buffer.from('xx123456789yy'), 2, 11), 0x31c3);
  });
});

describe('slotOf', () => {
  it('answers what redis-server answers to CLUSTER KEYSLOT', () => {
    const h = new SlotHasher();
    for (const [key, expected] of REDIS_KEYSLOT) {
      assert.equal(slotOf(key), expected, key);
      assert.equal(h.slotOf(key), expected, key);
      assert.equal(slotOfBytes(Buffer.from(key)), expected, key);
    }
  });

  it('gives keys with the same non-empty hash tag the same slot', () => {
    assert.equal(slotOf('{user1000}.following'), slotOf('{user1000}.followers'));
    assert.equal(slotOf('a{tag}b'), slotOf('tag'));
    assert.notEqual(slotOf('foo{}{bar}'), slotOf('bar'));
  });

  it('agrees with the plain definition on random keys of every length, with braces and non-ASCII', () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    const alphabet = ['a', 'b', '{', '}', 'z', '9', 'é', 'ключ', '😀', ':'];
    const h = new SlotHasher();
    for (let n = 0; n < 3000; n++) {
      const len = n < 1500 ? Math.floor(rnd() * 12) : Math.floor(rnd() * 1400);
      let key = '';
      for (let i = 0; i < len; i++) key += alphabet[Math.floor(rnd() * alphabet.length)]!;
      const expected = slotByDefinition(Buffer.from(key));
      assert.equal(h.slotOf(key), expected, `seed ${seed}: key ${JSON.stringify(key.slice(0, 40))}`);
      assert.equal(h.slotOfBytes(Buffer.from(key)), expected, `seed ${seed}`);
    }
  });

  it('agrees with the plain definition on random ASCII keys of every code, and tags beside non-ASCII text', () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    const h = new SlotHasher();
    const pick = (alphabet: readonly string[]): string => alphabet[Math.floor(rnd() * alphabet.length)]!;
    const ascii = Array.from({ length: 128 }, (_, c) => String.fromCharCode(c));
    // ASCII with braces made common, then single non-ASCII characters (two- to four-byte UTF-8 and
    // lone surrogates, which encode as U+FFFD) placed inside or outside a tag.
    const braced = [...ascii, '{', '}', '{', '}', '{', '}', '{', '}'];
    const wide = ['é', '\u00ff', '\u0100', 'ключ', '\u{1F600}', '\ud800', '\udfff', '\u7b7d'];
    for (let n = 0; n < 20000; n++) {
      const len = n < 15000 ? Math.floor(rnd() * 24) : Math.floor(rnd() * 5000);
      let key = '';
      for (let i = 0; i < len; i++) key += pick(braced);
      if (n % 3 === 0 && len > 0) {
        const at = Math.floor(rnd() * len);
        key = key.slice(0, at) + pick(wide) + key.slice(at);
      }
      const expected = slotByDefinition(Buffer.from(key));
      const what = `seed ${seed}: key ${JSON.stringify(key.slice(0, 60))} (${key.length} units)`;
      assert.equal(h.slotOf(key), expected, what);
      assert.equal(slotOf(key), expected, what);
    }
  });

  it('is not fooled by bytes a longer earlier key left in the scratch buffer', () => {
    const h = new SlotHasher();
    h.slotOf('kkkkkkkkkkk{tag}');
    assert.equal(h.slotOf('foo'), 12182);
    h.slotOf('x}}}}}}}}}}}}}}}}}');
    assert.equal(h.slotOf('{ab'), slotByDefinition(Buffer.from('{ab')));
  });

  it('spreads sequential keys evenly over four quarters', () => {
    const quarters = [0, 0, 0, 0];
    for (let i = 0; i < 100000; i++) quarters[Math.floor(slotOf(`key${i}`) / (SLOT_COUNT / 4))]!++;
    for (const q of quarters) assert.ok(q > 23000 && q < 27000, `quarter count ${q}`);
  });
});

describe('prefixSlot', () => {
  it('names the one slot of every key under a prefix that holds a whole hash tag, and none otherwise (seeded)', () => {
    const seed = testSeed();
    const rand = seededRandom(seed);
    const pick = (s: string): string => s[Math.floor(rand() * s.length)]!;
    const alphabet = 'ab{}x';
    for (let i = 0; i < 2000; i++) {
      const prefix = Array.from({ length: Math.floor(rand() * 8) }, () => pick(alphabet)).join('');
      const slot = prefixSlot(Buffer.from(prefix));
      const slots = new Set<number>();
      for (let k = 0; k < 12; k++) {
        const tail = Array.from({ length: Math.floor(rand() * 6) }, () => pick(alphabet)).join('');
        slots.add(slotByDefinition(Buffer.from(prefix + tail)));
      }
      const what = `seed ${seed}: prefix ${JSON.stringify(prefix)}`;
      if (slot !== undefined) assert.deepEqual([...slots], [slot], what);
      else {
        const open = prefix.indexOf('{');
        const close = open < 0 ? -1 : prefix.indexOf('}', open + 1);
        assert.ok(close <= open + 1, `${what}: holds a whole tag, so it fixes the slot`);
      }
    }
    assert.equal(prefixSlot(Buffer.from('{user1000}.fo')), 3443);
    assert.equal(prefixSlot(Buffer.from('{}x')), undefined, 'an empty tag hashes the whole key');
    assert.equal(prefixSlot(Buffer.from('{user1000')), undefined);
  });
});
