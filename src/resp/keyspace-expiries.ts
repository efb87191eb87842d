/**
 * KeyspaceExpiries: how many of the keys a node serves have an expiry still to come, and their
 * mean time left, for `INFO keyspace` (`db0:keys=K,expires=E,avg_ttl=A`; docs/resp.md). The
 * stores do not count them (a count kept on each write would cost every write a read of the
 * key's previous expiry), so a census walks the served stores' keys on their workers, a page of
 * CENSUS_PAGE_KEYS keys per message, reading keys and expiries without values
 * (src/worker/expiry-census.ts). The count is exact as of the walk.
 *
 * A walk costs time in proportion to the keys, and monitoring tools send INFO every second
 * (`redis-cli --stat`), so a census is answered again, instead of walking, while the stores'
 * last seqs have not moved since it (nothing was written: an expiry that passes is followed by
 * its expire record, which moves them) for up to REUSE_MAX_MS, and, for a census that took
 * SLOW_CENSUS_MS or more over more than a page of some store (a node of many keys), to the INFOs
 * of the next REUSE_FACTOR times its duration even after writes, so the walks take at most about
 * a tenth of the workers' time; its avg_ttl is then lowered by the time since. INFOs that arrive
 * during a walk share it. A walk of a page per store costs a message per store whatever the clock
 * says (on a loaded machine it can take 100 ms of waiting for a core), so a small node counts
 * every write sent before the INFO. One per RESP listener; owned by the main thread.
 *
 * Each page waits for its worker at most `pageWaitMs` (STATS_WAIT_MS, the stats round's bound,
 * store-stats.ts): a worker alive but silent (its thread in a long synchronous step) held the
 * census, hence INFO and every reply pipelined behind it on its connection, for as long as it
 * stayed silent. The bound is per page, not per walk: a walk's time grows with the keys, and a
 * bound on the whole walk would fail every INFO of a node of many keys whose workers all answer.
 * A page not answered in time fails the census (its late answer is dropped; the next INFO walks
 * again), and INFO answers -TRYAGAIN, as when the stats round times out (commands-info.ts says
 * why it does not answer without the figures).
 */
import type { CallResult } from '../server/worker-link.js';
import type { WorkerPool } from '../server/worker-pool.js';
import { within } from '../util/within.js';
import type { LocalTarget } from './key-route.js';
import { STATS_WAIT_MS } from './store-stats.js';

/** CENSUS_PAGE_KEYS is how many keys one page of a census visits on a worker. */
export const CENSUS_PAGE_KEYS = 1000;
/** REUSE_FACTOR: a census that took T ≥ SLOW_CENSUS_MS answers the INFOs of the next REUSE_FACTOR × T ms. */
export const REUSE_FACTOR = 10;
/** SLOW_CENSUS_MS is how long a census of more than a page of some store must have taken to be reused after writes. */
export const SLOW_CENSUS_MS = 100;
/** REUSE_MAX_MS bounds how long a census is reused while nothing is written. */
export const REUSE_MAX_MS = 1000;

/** ExpiryCount is what INFO keyspace reports of the keys with an expiry: how many, and their mean time left (ms, rounded). */
export interface ExpiryCount {
  expires: number;
  avgTtlMs: number;
}

/** Census is one walk of a set of stores at their last seqs `seqs` (when it started): running (tookMs -1), or done at `at` after `tookMs`. */
interface Census {
  stores: string;
  seqs: string;
  count: Promise<ExpiryCount>;
  at: number;
  tookMs: number;
  /** paged: some store took more than one page, so the walk's time is its keys', not only the machine's load. */
  paged: boolean;
}

/** Walked is a walk's count and whether some store took more than one page. */
interface Walked {
  count: ExpiryCount;
  paged: boolean;
}

/** KeyspaceExpiries counts the keys with an expiry in the stores a connection is served by. */
export class KeyspaceExpiries {
  private readonly pool: Pick<WorkerPool, 'call' | 'lastSeq'>;
  private readonly clock: () => number;
  /** pageWaitMs bounds the wait for one page's answer (see the design block). */
  private readonly pageWaitMs: number;
  /** last is the newest census: reused while running, and for REUSE_FACTOR times its duration once done. */
  private last: Census | undefined;

  constructor(
    pool: Pick<WorkerPool, 'call' | 'lastSeq'>,
    clock: () => number = Date.now,
    pageWaitMs = STATS_WAIT_MS,
  ) {
    this.pool = pool;
    this.clock = clock;
    this.pageWaitMs = pageWaitMs;
  }

  /** count resolves with the keys with an expiry in `stores` (a census reused, shared or walked now). */
  count(stores: readonly LocalTarget[]): Promise<ExpiryCount> {
    const names = stores.map((t) => t.store).join(',');
    const seqs = stores.map((t) => this.pool.lastSeq(t.store)).join(',');
    const now = this.clock();
    const last = this.last;
    if (last?.stores === names && last.tookMs < 0) return last.count;
    if (last?.stores === names && this.reusable(last, seqs, now - last.at)) {
      const since = now - last.at;
      return last.count.then((c) => ({ expires: c.expires, avgTtlMs: Math.max(0, c.avgTtlMs - since) }));
    }
    const census: Census = {
      stores: names,
      seqs,
      count: Promise.resolve({ expires: 0, avgTtlMs: 0 }),
      at: now,
      tookMs: -1,
      paged: false,
    };
    census.count = this.walk(stores).then(
      ({ count, paged }) => {
        census.at = this.clock();
        census.tookMs = census.at - now;
        census.paged = paged;
        return count;
      },
      (err: unknown) => {
        // A failed walk is not reused: the next INFO walks again.
        if (this.last === census) this.last = undefined;
        throw err;
      },
    );
    this.last = census;
    return census.count;
  }

  /** reusable tells whether a census done `age` ms ago answers now, the stores being at `seqs` (see the design block). */
  private reusable(last: Census, seqs: string, age: number): boolean {
    if (last.seqs === seqs && age < REUSE_MAX_MS) return true;
    return last.paged && last.tookMs >= SLOW_CENSUS_MS && age < REUSE_FACTOR * last.tookMs;
  }

  /** walk pages through every store of `stores` and sums what each page counted. */
  private async walk(stores: readonly LocalTarget[]): Promise<Walked> {
    let expires = 0;
    let ttlSumMs = 0;
    let paged = false;
    for (const t of stores) {
      let after: Uint8Array | null = null;
      do {
        if (after !== null) paged = true;
        const r: CallResult = await within(
          `the expiry census of store ${t.store}`,
          this.pageWaitMs,
          this.pool.call(t.worker, { type: 'expiry-census', store: t.store, after, limit: CENSUS_PAGE_KEYS }),
        );
        if (r.type !== 'expiry-census-result')
          throw new Error(`expiry census of store ${t.store}: ${r.type}`);
        expires += r.count;
        ttlSumMs += r.ttlSumMs;
        after = r.next;
      } while (after !== null);
    }
    return { count: { expires, avgTtlMs: expires === 0 ? 0 : Math.round(ttlSumMs / expires) }, paged };
  }
}
