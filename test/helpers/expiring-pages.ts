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
