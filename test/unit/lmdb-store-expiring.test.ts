/**
 * The lmdb engine's `Store.expiring`: a store opened as a leader after a restart learns, by the
 * expiry scan (src/worker/expiry-scan.ts), the expiries of the values it already holds.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { LmdbStore } from '../../src/storage/lmdb-store.js';
import { type Expiring } from '../../src/worker/expiry-reaper.js';
import { learnExpiries } from '../../src/worker/expiry-scan.js';
import { checkEndsPageEarly, expiringPages, writeExpiryHistory } from '../helpers/expiring-pages.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);

function openLmdb(dir: string, clock: () => number): LmdbStore {
  return new LmdbStore({ dir, durability: 'fsync', fsyncIntervalMs: 20, clock });
}

/** pages lists `store.expiring` page by page as `key@seq:expiresAtMs`. */

describe('lmdb Store.expiring', () => {
  it('finds, after a reopen, a key with a TTL written before it: the expiry scan hands it to the reaper', async () => {
    const dir = tempDir(after);
    const time = { now: 1000 };
    let store = openLmdb(dir, () => time.now);
    await store.put(b('plain'), b('1'));
    const { seq } = await store.put(b('ttl'), b('2'), 60_000);
    await store.close();
    store = openLmdb(dir, () => time.now);
    try {
      const learned: Expiring[] = [];
      const n = await learnExpiries(
        store,
        3,
        (e) => learned.push(e),
        () => true,
      );
      assert.equal(n, 1);
      assert.deepEqual(learned, [{ store: 3, key: b('ttl'), seq, expiresAtMs: 60_000 }]);
    } finally {
      await store.close();
    }
  });

  it('lists every value with an expiry, expired or not, in key order, page by page', async () => {
    const time = { now: 1000 };
    const store = openLmdb(tempDir(after), () => time.now);
    try {
      await writeExpiryHistory(store);
      await store.put(b('f'), b('7'), 1300);
      time.now = 5000;
      const want = ['a@1:1100', 'c@3:9000', 'f@8:1300'];
      for (const limit of [1, 2, 1000])
        assert.deepEqual(await expiringPages(store, limit), want, `${limit} keys a page`);
    } finally {
      await store.close();
    }
  });

  it('ends a page early after a few MiB of values, and still lists every key', async () => {
    const store = openLmdb(tempDir(after), Date.now);
    try {
      await checkEndsPageEarly(store);
    } finally {
      await store.close();
    }
  });
});
