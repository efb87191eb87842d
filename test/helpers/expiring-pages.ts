/**
 * Reading a store's `expiring` listing page by page (src/storage/store.ts), for the tests of every
 * engine that lists its keys with an expiry: each key as "key@seq:expiresAtMs", in listing order.
 */
import assert from 'node:assert/strict';
import type { Store } from '../../src/storage/store.js';

/** expiringPages lists every key of `store` with an expiry, `limit` per page. */
export async function expiringPages(store: Store, limit: number): Promise<string[]> {
  const out: string[] = [];
  let after: Uint8Array | undefined;
  for (let n = 0; n < 1000; n++) {
    const page = store.expiring!(after, limit);
    assert.ok(page.entries.length <= limit);
    for (const e of page.entries) out.push(`${Buffer.from(e.key).toString()}@${e.seq}:${e.expiresAtMs}`);
    if (page.next === undefined) return out;
    after = page.next;
    await Promise.resolve();
  }
  return assert.fail('expiring never reached the end');
}

/**
 * checkEndsPageEarly writes six 1.5 MiB values with an expiry and checks that the first page ends
 * early (a page is bounded in bytes, not only in keys) while the pages together list every key.
 */
export async function checkEndsPageEarly(store: Store): Promise<void> {
  const big = Buffer.alloc(1536 * 1024, 'v');
  const want: string[] = [];
  for (let i = 0; i < 6; i++) {
    const { seq } = await store.put(Buffer.from(`big${i}`), big, 9_000_000_000_000);
    want.push(`big${i}@${seq}:9000000000000`);
  }
  const first = store.expiring!(undefined, 1000);
  assert.ok(first.entries.length < 6 && first.next !== undefined, `first page: ${first.entries.length} keys`);
  assert.deepEqual(await expiringPages(store, 1000), want);
}

/**
 * writeExpiryHistory writes, at a clock of 1000, keys that end as: `a` expiring at 1100, `b` with
 * no expiry, `c` expiring at 9000, `d` deleted after a write with an expiry, `e` rewritten without
 * one: listed, the store holds `a@1:1100` and `c@3:9000` (its first seqs are 1..7).
 */
export async function writeExpiryHistory(store: Store): Promise<void> {
  const b = (s: string): Buffer => Buffer.from(s);
  await store.put(b('a'), b('1'), 1100); // will be expired
  await store.put(b('b'), b('2')); // no expiry
  await store.put(b('c'), b('3'), 9000);
  await store.put(b('d'), b('4'), 1050);
  await store.delete(b('d')); // deleted: no longer expiring
  await store.put(b('e'), b('5'), 1200);
  await store.put(b('e'), b('6')); // rewritten without a TTL
}
