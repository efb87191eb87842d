/**
 * A watch snapshot's pages (src/watch/watch-tap.ts `watchScan`) are bounded in bytes as well as in
 * keys: a page ends after the entry that brings its keys and values to `maxBytes`, and such a page
 * is short but not `last`, so the snapshot reads on after its last key. Seeded: keys of random
 * bytes (not UTF-8 included), values of 0..1 MiB with the boundaries often, over every slot or half
 * of them; the pages give exactly the model's keys under the prefix. Prints its seed when it fails.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SLOT_COUNT, slotOfBytes } from '../../src/routing/slot.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import type { SlotRange } from '../../src/storage/own-slots.js';
import { entryBytes } from '../../src/storage/store.js';
import { compareBytes } from '../../src/util/bytes.js';
import { watchScan } from '../../src/watch/watch-tap.js';
import { seededRandom, testSeed } from '../helpers/random.js';

const MIB = 1024 * 1024;

/** snapshotOf reads every page of a watch snapshot of `store`, checking each against its bounds. */
function snapshotOf(
  store: MemoryStore,
  range: SlotRange,
  prefix: Buffer,
  bounds: { limit: number; maxBytes: number; keysOnly: boolean },
  why: string,
): Buffer[] {
  const keys: Buffer[] = [];
  let after: Uint8Array | null = null;
  for (let pages = 0; pages < 1000; pages++) {
    const r = watchScan(store, range, { type: 'watch-scan', id: pages, store: 0, prefix, after, ...bounds });
    assert.ok(r.type === 'watch-scan-result', why);
    assert.ok(r.entries.length <= bounds.limit, `${why}: ${r.entries.length} entries`);
    const before = r.entries.slice(0, -1).reduce((n, e) => n + entryBytes(e), 0);
    assert.ok(before < bounds.maxBytes, `${why}: a page went on past ${bounds.maxBytes} bytes (${before})`);
    keys.push(...r.entries.map((e) => Buffer.from(e.key)));
    if (bounds.keysOnly)
      assert.ok(
        r.entries.every((e) => e.value.length === 0),
        `${why}: a page for a watch without values carries values`,
      );
    const last = r.entries[r.entries.length - 1];
    if (r.last || last === undefined) return keys;
    after = last.key;
  }
  assert.fail(`${why}: the snapshot did not end`);
}

describe('a watch snapshot over large values', () => {
  it('pages by bytes as well as by keys, short pages not last, every key once (seeded model)', async () => {
    const seed = testSeed();
    const rand = seededRandom(seed);
    const store = new MemoryStore();
    const model = new Map<string, Buffer>();
    for (let i = 0; i < 80; i++) {
      const key = Buffer.from([
        0x77,
        ...Array.from({ length: 1 + Math.floor(rand() * 6) }, () => Math.floor(rand() * 256)),
      ]);
      const size = [0, 1, MIB - 1, MIB, Math.floor(rand() * MIB), 100][Math.floor(rand() * 6)]!;
      await store.put(key, Buffer.alloc(size, 0x61));
      model.set(key.toString('hex'), key);
    }
    await store.put(Buffer.from('other'), Buffer.alloc(10));
    const half = { first: 0, last: SLOT_COUNT / 2 - 1 };
    for (const range of [{ first: 0, last: SLOT_COUNT - 1 }, half]) {
      const want = [...model.values()]
        .filter((k) => slotOfBytes(k) >= range.first && slotOfBytes(k) <= range.last)
        .sort(compareBytes)
        .map((k) => k.toString('hex'));
      for (const bounds of [
        { limit: 1000, maxBytes: 4 * MIB, keysOnly: false },
        { limit: 1000, maxBytes: 4 * MIB, keysOnly: true },
        { limit: 1000, maxBytes: 1, keysOnly: false },
        { limit: 3, maxBytes: MIB + 2, keysOnly: true },
      ]) {
        const why = `seed ${seed}, slots ${range.first}-${range.last}, ${JSON.stringify(bounds)}`;
        const got = snapshotOf(store, range, Buffer.from('w'), bounds, why);
        assert.deepEqual(
          got.map((k) => k.toString('hex')),
          want,
          why,
        );
      }
    }
  });
});
