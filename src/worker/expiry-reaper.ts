/**
 * ExpiryReaper: the leader's clock for TTLs. It remembers (store, key, seq, expiresAtMs) of every
 * expiring write a leader store acknowledged (or a read found expired), in a min-heap by expiry,
 * and when an expiry passes hands the entry to `reap`, which writes the ordered TYPE_EXPIRE record
 * if the key still holds that very write (src/worker/expiry-records.ts). Reads never wait for it: a
 * store hides an expired value by the clock (src/storage/store.ts); the record is what makes
 * replicas, watchers and compaction agree on when, in log order, the key went away.
 *
 * Bounded work: one timer for the earliest expiry; each turn reaps at most REAP_PER_TURN entries,
 * then yields (setImmediate) when more are due. Bounded memory: one entry per (store, key), the
 * newest write's (highest seq) — a key rewritten with a TTL on every access (a session refreshed
 * by each request) stays one entry, not one per write. `reap` still ignores an entry whose key
 * has since been written again without a TTL. With a horizon, only writes expiring within it are
 * remembered: a later one goes to `defer` instead (expiry-records.ts then finds it again with a scan
 * of its store shortly before it is due), so millions of keys with long TTLs do not each hold an
 * entry for days. Owned by one shard worker thread.
 */

/** REAP_PER_TURN bounds the expiries handed to `reap` in one event-loop turn. */
export const REAP_PER_TURN = 256;
/**
 * RECHECK_MS caps a timer's delay: timers run on the monotonic clock, expiries on the wall clock
 * reads use, so a wall clock stepped forward is noticed within RECHECK_MS instead of when a timer
 * armed before the step runs out (as late as the step).
 */
const RECHECK_MS = 1000;

/** Expiring is one remembered expiring write. */
export interface Expiring {
  store: number;
  key: Buffer;
  seq: number;
  expiresAtMs: number;
}

/** ReapHorizon is how far ahead a reaper remembers, and where a write expiring later goes instead. */
export interface ReapHorizon {
  ms: number;
  defer: (e: Expiring) => void;
}

/**
 * Slot is a remembered write in the heap: `at` is its index there, `id` its (store, key) as
 * `store:key` with the key's bytes as latin1; the key is rebuilt from it when reaped (a Buffer per
 * slot would cost ~100 bytes more per key: docs/performance.md, "TTL expiry after a restart").
 */
interface Slot {
  store: number;
  seq: number;
  expiresAtMs: number;
  id: string;
  at: number;
}

/** ExpiryReaper calls `reap` with each remembered write once the clock passes its expiry. */
export class ExpiryReaper {
  /** heap is a min-heap by expiry; byKey finds the slot of a (store, key) in it. */
  private readonly heap: Slot[] = [];
  private readonly byKey = new Map<string, Slot>();
  private readonly reap: (e: Expiring) => void;
  private readonly clock: () => number;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private draining = false;
  private closed = false;

  private readonly horizon: ReapHorizon | undefined;

  /** `horizon`, if given, limits what is remembered to the writes expiring within `horizon.ms`. */
  constructor(reap: (e: Expiring) => void, clock: () => number = Date.now, horizon?: ReapHorizon) {
    this.reap = reap;
    this.clock = clock;
    this.horizon = horizon;
  }

  /** size is the number of remembered writes (at most one per store and key). */
  get size(): number {
    return this.heap.length;
  }

  /**
   * add remembers an expiring write (the reaper keeps its key as a string, not `key` itself), or
   * hands it to the horizon's `defer` when it expires beyond it. It replaces what is remembered of
   * the same key when its seq is higher, and is ignored when it is not.
   */
  add(e: Expiring): void {
    if (this.closed) return;
    if (this.horizon !== undefined && e.expiresAtMs - this.clock() > this.horizon.ms) {
      // An entry this key may have for an older write is left: `reap` finds the key rewritten.
      this.horizon.defer(e);
      return;
    }
    const id = `${String(e.store)}:${e.key.toString('latin1')}`;
    const old = this.byKey.get(id);
    if (old !== undefined) {
      if (e.seq <= old.seq) return;
      old.seq = e.seq;
      old.expiresAtMs = e.expiresAtMs;
      this.down(this.up(old.at));
    } else {
      const slot: Slot = { store: e.store, seq: e.seq, expiresAtMs: e.expiresAtMs, id, at: 0 };
      this.byKey.set(id, slot);
      this.heap.push(slot);
      slot.at = this.heap.length - 1;
      this.up(slot.at);
    }
    this.arm();
  }

  /** close forgets everything and stops the timer. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.heap.length = 0;
    this.byKey.clear();
  }

  /** arm sets the timer for the earliest expiry, unless a sooner one is set or a drain is queued. */
  private arm(): void {
    const first = this.heap[0];
    if (first === undefined || this.draining || this.closed) return;
    if (this.timer !== undefined && this.timerAt <= first.expiresAtMs) return;
    clearTimeout(this.timer);
    this.timerAt = first.expiresAtMs;
    const delay = Math.min(RECHECK_MS, Math.max(0, first.expiresAtMs - this.clock()));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.drain();
    }, delay);
    this.timer.unref();
  }

  /** drain reaps up to REAP_PER_TURN due entries, then continues next turn or re-arms the timer. */
  private drain(): void {
    if (this.closed) return;
    const now = this.clock();
    let n = 0;
    while (n < REAP_PER_TURN && this.heap.length > 0 && this.heap[0]!.expiresAtMs <= now) {
      const { store, id, seq, expiresAtMs } = this.pop();
      const key = Buffer.from(id.slice(id.indexOf(':') + 1), 'latin1');
      this.reap({ store, key, seq, expiresAtMs });
      n++;
    }
    if (this.heap.length > 0 && this.heap[0]!.expiresAtMs <= now) {
      this.draining = true;
      setImmediate(() => {
        this.draining = false;
        this.drain();
      });
    } else this.arm();
  }

  private pop(): Slot {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    this.byKey.delete(top.id);
    if (h.length > 0) {
      h[0] = last;
      last.at = 0;
      this.down(0);
    }
    return top;
  }

  /** up moves the slot at `i` towards the root while it expires sooner than its parent; returns where it stops. */
  private up(i: number): number {
    const h = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.expiresAtMs <= h[i]!.expiresAtMs) break;
      this.swap(parent, i);
      i = parent;
    }
    return i;
  }

  /** down moves the slot at `i` towards the leaves while a child expires sooner. */
  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l]!.expiresAtMs < h[m]!.expiresAtMs) m = l;
      if (r < h.length && h[r]!.expiresAtMs < h[m]!.expiresAtMs) m = r;
      if (m === i) return;
      this.swap(m, i);
      i = m;
    }
  }

  private swap(i: number, j: number): void {
    const h = this.heap;
    const a = h[i]!;
    const b = h[j]!;
    h[i] = b;
    h[j] = a;
    a.at = j;
    b.at = i;
  }
}
