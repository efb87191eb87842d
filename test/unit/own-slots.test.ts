/**
 * A store's scan after a layout change lists only its shard's slots (src/storage/own-slots.ts):
 * pages stay full while keys of other slots lie between, a short page still means the end, and
 * paging through gives exactly the model's keys of those slots. `noteSlots` remembers the range a
 * store was opened with and reports the one before when it changed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { slotOfBytes } from '../../src/routing/slot.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { noteSlots, scanOwnSlots, SLOTS_FILE } from '../../src/storage/own-slots.js';
import { seededRandom, testSeed } from '../helpers/random.js';

describe('scans of a store limited to its slots', () => {
  it('pages through exactly the keys of its slots, at every page size (seeded)', async () => {
    const seed = testSeed();
    const rand = seededRandom(seed);
    const store = new MemoryStore();
    const keys: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      const key = Buffer.from(`k:${Math.floor(rand() * 1e6)}:${i}`);
      keys.push(key);
      await store.put(key, Buffer.from('v'));
    }
    const first = Math.floor(rand() * 16384);
    const ranges = [
      { first: 0, last: 16383 },
      { first, last: Math.min(16383, first + Math.floor(rand() * 4000)) },
      { first: 0, last: 0 },
      { first: 8000, last: 8191 },
    ];
    for (const range of ranges) {
      const want = keys
        .filter((k) => slotOfBytes(k) >= range.first && slotOfBytes(k) <= range.last)
        .map((k) => k.toString())
        .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      for (const limit of [1, 2, 7, 50, 1000]) {
        const got: string[] = [];
        let afterKey: Uint8Array | undefined;
        for (let pages = 0; pages <= want.length + 1; pages++) {
          const page = scanOwnSlots(store, range, Buffer.from('k:'), afterKey, limit);
          assert.ok(page.length <= limit);
          got.push(...page.map((e) => Buffer.from(e.key).toString()));
          if (page.length < limit) break;
          afterKey = page[page.length - 1]!.key;
        }
        assert.deepEqual(got, want, `seed ${seed}: slots ${range.first}-${range.last}, limit ${limit}`);
      }
    }
  });
});

describe('the SLOTS file of a store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'distkv-own-slots-'));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('is written at the first open and reports the range before when it changes', async () => {
    assert.equal(await noteSlots(dir, { first: 0, last: 8191 }), undefined, 'a new store');
    assert.equal(readFileSync(join(dir, SLOTS_FILE), 'utf8'), '0-8191\n');
    assert.equal(await noteSlots(dir, { first: 0, last: 8191 }), undefined, 'unchanged');
    assert.deepEqual(await noteSlots(dir, { first: 0, last: 5460 }), { first: 0, last: 8191 });
    assert.equal(readFileSync(join(dir, SLOTS_FILE), 'utf8'), '0-5460\n');
    assert.equal(await noteSlots(dir, { first: 0, last: 5460 }), undefined);
  });
});
