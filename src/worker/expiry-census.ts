/**
 * Expiry census: how many keys of a store hold a value with an expiry still to come, for RESP's
 * `INFO keyspace` (`expires=`, `avg_ttl=`; docs/resp.md). The stores count their keys but not
 * those with an expiry, so the census walks them, a page at a time, with `Store.expiring` (the
 * walk a new leader's reaper makes: src/worker/expiry-scan.ts), which reads keys and expiries
 * without copying values. One page is one `expiry-census` message: the main thread asks for the
 * next, so the worker's op batches run between pages. Keys of slots the store no longer owns
 * (left by a layout change until a purge: src/storage/own-slots.ts) are not counted, as a scan
 * does not list them. An expiry already passed is not counted: that key is gone for every read.
 */
import { slotOfBytes } from '../routing/slot.js';
import type { SlotRange } from '../storage/own-slots.js';
import type { Store } from '../storage/store.js';
import type { FromWorker, ToWorker } from './messages.js';

/**
 * expiryCensus answers one page of an `expiry-census` of `store`, whose shard owns the slots
 * `range`. A store that is not open here (undefined: it failed to open) counts nothing, as its
 * keys are not in the stores' key count either, so INFO still answers on a degraded node.
 */
export function expiryCensus(
  store: Store | undefined,
  range: SlotRange,
  msg: Extract<ToWorker, { type: 'expiry-census' }>,
  nowMs = Date.now(),
): FromWorker {
  const done = { type: 'expiry-census-result', id: msg.id, ok: true } as const;
  if (store?.expiring === undefined) return { ...done, count: 0, ttlSumMs: 0, next: null };
  const page = store.expiring(msg.after ?? undefined, msg.limit);
  let count = 0;
  let ttlSumMs = 0;
  for (const e of page.entries) {
    if (e.expiresAtMs <= nowMs) continue;
    const slot = slotOfBytes(e.key);
    if (slot < range.first || slot > range.last) continue;
    count++;
    ttlSumMs += e.expiresAtMs - nowMs;
  }
  const next = page.next === undefined ? null : Uint8Array.prototype.slice.call(page.next);
  return { ...done, count, ttlSumMs, next };
}
