/**
 * Expiry scan: how a leader's reaper (expiry-reaper.ts) learns the expiries it never saw written.
 *
 * The reaper hears of an expiring write when the leader acknowledges it. A store that becomes a
 * leader otherwise — opened as one after a restart, or promoted from replica — already holds values
 * with an expiry that it recovered from its log, runs and LMDB or replicated from the old leader;
 * without this scan no TYPE_EXPIRE record would ever be logged for them, and a watcher would never
 * see them expire (reads hide them by the clock either way). `learnExpiries` pages through the
 * store in key order and hands every value with an expiry, expired or not, to the reaper, which
 * logs the record when it is due (at once for one already due) if the key still holds that write.
 *
 * Bounded work and memory: EXPIRY_SCAN_KEYS keys per event-loop turn (`Store.expiring`), yielding
 * between pages, so a store of millions of keys is scanned without stalling its worker and
 * without holding more than one page; the reaper then keeps one entry per expiring key, as it does
 * for the writes it sees live. Writes during the scan need no care: the reaper keeps the newest
 * seq of a key, and checks the key still holds it before logging. The scan stops as soon as
 * `keepGoing` says the store no longer leads (or the worker closes). Owned by one worker thread.
 *
 * The same scan runs again for the writes the reaper's horizon deferred (expiry-reaper.ts):
 * RescanTimers keeps one timer per store, for half a horizon before the earliest deferred expiry,
 * and the rescan hands the reaper what has come within its horizon by then (deferring the rest
 * again). So a store whose keys carry long TTLs costs one pass every half horizon at most, instead
 * of a reaper entry per key for as long as its TTL.
 */
import type { Store } from '../storage/store.js';
import type { Expiring } from './expiry-reaper.js';

/** EXPIRY_SCAN_KEYS is how many keys one page of the scan visits. */
export const EXPIRY_SCAN_KEYS = 1000;
/** REAP_HORIZON_MS is how far ahead a leader's reaper remembers expiries (the rest wait for a rescan). */
export const REAP_HORIZON_MS = 10 * 60_000;
/** MAX_TIMER_MS caps a timer's delay (setTimeout's limit is 2^31-1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * learnExpiries hands the reaper (`add`) every value with an expiry that store `index` holds;
 * it resolves with how many, or early once `keepGoing` returns false. An engine that cannot list
 * its expiring values (no `Store.expiring`) relies on reads alone (store-reads.ts).
 */
export async function learnExpiries(
  store: Store,
  index: number,
  add: (e: Expiring) => void,
  keepGoing: () => boolean,
): Promise<number> {
  if (store.expiring === undefined) return 0;
  let learned = 0;
  let after: Uint8Array | undefined;
  while (keepGoing()) {
    const page = store.expiring(after, EXPIRY_SCAN_KEYS);
    for (const e of page.entries)
      add({ store: index, key: Buffer.from(e.key), seq: e.seq, expiresAtMs: e.expiresAtMs });
    learned += page.entries.length;
    if (page.next === undefined) break;
    after = page.next;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return learned;
}

/** RescanTimers schedules, per store, the scan that finds the expiries a reaper's horizon deferred. */
export class RescanTimers {
  private readonly timers = new Map<number, { at: number; timer: NodeJS.Timeout }>();
  private readonly rescan: (store: number) => void;
  private readonly leadMs: number;

  /** `rescan` scans a store again, `leadMs` before the earliest expiry deferred in it. */
  constructor(rescan: (store: number) => void, leadMs: number) {
    this.rescan = rescan;
    this.leadMs = leadMs;
  }

  /** deferred notes a write the reaper did not remember: its store is scanned again in time for it. */
  deferred(e: Expiring): void {
    const at = e.expiresAtMs - this.leadMs;
    const current = this.timers.get(e.store);
    if (current !== undefined && current.at <= at) return;
    clearTimeout(current?.timer);
    const timer = setTimeout(
      () => {
        this.timers.delete(e.store);
        this.rescan(e.store);
      },
      Math.min(MAX_TIMER_MS, Math.max(0, at - Date.now())),
    );
    timer.unref();
    this.timers.set(e.store, { at, timer });
  }

  /** close cancels every scheduled rescan. */
  close(): void {
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
