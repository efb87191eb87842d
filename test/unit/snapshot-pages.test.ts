/**
 * A leader's snapshot pages (src/worker/replication-messages.ts `snapshotPage`, bounded in entries
 * and in bytes by Store.scan) against a model: a store is a Map. Seeded: keys of random bytes (not
 * UTF-8, 0x00 and 0xFF included), values of every size 0..max_value_bytes with the boundaries
 * often, overwrites and deletes; the pages, read with random bounds (one entry, a byte, exactly an
 * entry's size, 4 MiB) and decoded from random chunk splits, give exactly the model, and no page
 * holds more than its byte bound plus one entry, over every slot or a shard's part of them
 * (scanOwnSlots). Prints its seed when it fails (DISTKV_SEED replays).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { ReplicationHost } from '../../src/replication/replication-host.js';
import {
  encodeSnapshotEnd,
  encodeSnapshotHeader,
  SnapshotDecoder,
} from '../../src/replication/snapshot-format.js';
import { LmdbStore } from '../../src/storage/lmdb-store.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { scanOwnSlots, type SlotRange } from '../../src/storage/own-slots.js';
import type { Store } from '../../src/storage/store.js';
import { SLOT_COUNT, slotOfBytes } from '../../src/routing/slot.js';
import type { FromWorker } from '../../src/worker/messages.js';
import { ReplicationMessages } from '../../src/worker/replication-messages.js';
import type { StoreWrites } from '../../src/worker/store-writes.js';
import type { WorkerStores } from '../../src/worker/worker-stores.js';
import { openTestLsm } from '../helpers/lsm.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { tempDir } from '../helpers/temp-dir.js';

const MAX_VALUE = 1024 * 1024;
const ENTRY_HEAD = 22;
const WRITES = 90;
const ROUNDS = 4;

/** pagesOf answers `snapshotPage` from `store`'s slots `range` as the worker does (ReplicationHost's part is scanOwnSlots). */
function pagesOf(store: Store, range: SlotRange): ReplicationMessages {
  const host = {
    snapshotPage: (_: number, after: Uint8Array | null, page: { limit: number; maxBytes: number }) => ({
      seq: store.lastSeq(),
      entries: scanOwnSlots(store, range, new Uint8Array(0), after ?? undefined, page.limit, page.maxBytes),
    }),
  };
  // Pages use neither the stores nor the writes (those answer fences and role changes).
  const unused = undefined as unknown;
  return new ReplicationMessages(
    unused as WorkerStores,
    unused as StoreWrites,
    () => host as unknown as ReplicationHost,
  );
}

function randomKey(rand: () => number): Buffer {
  const len = 1 + Math.floor(rand() * 12);
  // A small alphabet of bytes, most not UTF-8 on their own, so keys collide (overwrites) and sort by byte.
  const alphabet = [0x00, 0x01, 0x2f, 0x61, 0x7f, 0x80, 0xc0, 0xe9, 0xfe, 0xff];
  return Buffer.from(Array.from({ length: len }, () => alphabet[Math.floor(rand() * alphabet.length)]!));
}

function randomSize(rand: () => number): number {
  const boundaries = [0, 1, MAX_VALUE - 1, MAX_VALUE];
  const r = rand();
  if (r < 0.3) return boundaries[Math.floor(rand() * boundaries.length)]!;
  if (r < 0.6) return Math.floor(rand() * 64);
  return Math.floor(rand() * (MAX_VALUE + 1));
}

/** readSnapshot pages through the whole snapshot with the bounds given, checks each page's size, and decodes it. */
function readSnapshot(
  messages: ReplicationMessages,
  limit: number,
  maxBytes: number,
  rand: () => number,
): Map<string, Buffer> {
  const parts: Buffer[] = [];
  let after: Uint8Array | null = null;
  let seq: number | null = null;
  let crc: number | null = null;
  for (let pages = 0; ; pages++) {
    assert.ok(pages < 100000, 'the pages never end');
    const r: FromWorker = messages.snapshotPage({
      type: 'repl-snapshot',
      id: pages,
      store: 0,
      after,
      limit,
      maxBytes,
      seq,
      crc,
    });
    assert.equal(r.type, 'repl-snapshot-result');
    // As the front door streams it (src/http/snapshot-route.ts): the header of the first page's seq,
    // and the crc the worker keeps through the pages.
    if (seq === null) parts.push(encodeSnapshotHeader(r.seq));
    seq = r.seq;
    crc = r.crc;
    const body = Buffer.from(r.buffer, 0, r.length);
    assert.ok(r.count <= limit, `a page of ${r.count} entries passed the limit ${limit}`);
    const bound = maxBytes + r.count * ENTRY_HEAD + MAX_VALUE + 1024 + 2;
    assert.ok(body.length <= bound, `a page of ${body.length} bytes passed ${bound}`);
    parts.push(body);
    if (r.last) break;
    assert.ok(r.lastKey !== null || r.count === 0);
    after = r.lastKey;
  }
  parts.push(encodeSnapshotEnd(seq, crc));
  const all = Buffer.concat(parts);
  const decoder = new SnapshotDecoder();
  const got = new Map<string, Buffer>();
  for (let at = 0; at < all.length;) {
    const n = 1 + Math.floor(rand() * 3 * MAX_VALUE);
    for (const e of decoder.push(all.subarray(at, at + n))) {
      const k = e.key.toString('latin1');
      assert.equal(got.has(k), false, `key ${e.key.toString('hex')} came twice`);
      got.set(k, Buffer.from(e.value));
    }
    at += n;
  }
  assert.equal(decoder.done, true, 'the snapshot ended');
  return got;
}

const engines: [string, (dir: string) => Store | Promise<Store>][] = [
  ['MemoryStore', () => new MemoryStore()],
  ['LmdbStore', (dir) => new LmdbStore({ dir, durability: 'interval', fsyncIntervalMs: 20 })],
  [
    'LsmStore (small memtable)',
    (dir) => openTestLsm(dir, { memtableBytes: 256 * 1024, maxRuns: 2, durability: 'interval' }),
  ],
];

describe('snapshot pages bounded in bytes, against a model', () => {
  for (const [name, open] of engines) {
    it(`${name}: every page within its bounds, and together exactly the store`, async () => {
      const seed = testSeed();
      const rand = seededRandom(seed);
      const store = await open(tempDir(after));
      try {
        const model = new Map<string, Buffer>();
        for (let i = 0; i < WRITES; i++) {
          const key = randomKey(rand);
          if (rand() < 0.15) {
            await store.delete(key);
            model.delete(key.toString('latin1'));
            continue;
          }
          const value = Buffer.alloc(randomSize(rand), i & 0xff);
          await store.put(key, value);
          model.set(key.toString('latin1'), value);
        }
        const sizes = [...model.entries()].map(([k, v]) => Buffer.byteLength(k, 'latin1') + v.length);
        for (let round = 0; round < ROUNDS; round++) {
          // Every slot, or a shard's part of them after a layout change (src/storage/own-slots.ts).
          const half = round % 2 === 1;
          const range = half ? { first: 0, last: SLOT_COUNT / 2 - 1 } : { first: 0, last: SLOT_COUNT - 1 };
          const want = new Map(
            [...model].filter(([k]) => slotOfBytes(Buffer.from(k, 'latin1')) <= range.last),
          );
          const limit = [1, 3, 10000][Math.floor(rand() * 3)]!;
          const exact = sizes[Math.floor(rand() * sizes.length)] ?? 1;
          const maxBytes = [1, exact, exact + 1, 4 * 1024 * 1024][Math.floor(rand() * 4)]!;
          const got = readSnapshot(pagesOf(store, range), limit, maxBytes, rand);
          const what = `seed ${seed}: limit ${limit}, maxBytes ${maxBytes}, slots ${range.first}-${range.last}`;
          assert.equal(got.size, want.size, what);
          for (const [k, v] of want) {
            const g = got.get(k);
            assert.ok(
              g !== undefined,
              `seed ${seed}: key ${Buffer.from(k, 'latin1').toString('hex')} missing`,
            );
            assert.ok(g.equals(v), `seed ${seed}: key ${Buffer.from(k, 'latin1').toString('hex')} differs`);
          }
        }
      } catch (err) {
        console.error(`snapshot-pages ${name}: seed ${seed} (DISTKV_SEED=${seed} replays)`);
        throw err;
      } finally {
        await store.close();
      }
    });
  }
});
