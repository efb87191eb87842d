/**
 * Measures: the cost of routing one key to its slot, Redis Cluster's `crc16(key or {tag}) mod 16384`
 * (src/routing/slot.ts, used on every request), on 16-byte ASCII keys, a hash-tagged key, a
 * non-ASCII key and a 1024-byte key; and the bare CRC16 of 16 bytes for reference.
 */
import { bench, do_not_optimize, run, summary } from 'mitata';
import { crc16 } from '../../../src/routing/crc16.js';
import { SlotHasher } from '../../../src/routing/slot.js';
import { printHeader } from '../header.js';
import { USER_KEYS } from '../routing-fixture.js';

printHeader('routing/slot-hash');

const bytes = USER_KEYS.map((k) => Buffer.from(k));
const hasher = new SlotHasher();
let i = 0;

summary(() => {
  bench('slotOf (16-byte ASCII key)', () => {
    do_not_optimize(hasher.slotOf(USER_KEYS[i++ & 1023]!));
  });
  bench('slotOfBytes (16-byte key as bytes)', () => {
    do_not_optimize(hasher.slotOfBytes(bytes[i++ & 1023]!));
  });
  bench('crc16 (16 bytes)', () => {
    do_not_optimize(crc16(bytes[i++ & 1023]!));
  });
});

bench('slotOf (hash-tagged key "{user1000}.following")', () => {
  do_not_optimize(hasher.slotOf('{user1000}.following'));
});
bench('slotOf (non-ASCII key "ключ-42")', () => {
  do_not_optimize(hasher.slotOf('ключ-42'));
});
const long = 'k'.repeat(1024);
bench('slotOf (1024-byte key)', () => {
  do_not_optimize(hasher.slotOf(long));
});

await run();
