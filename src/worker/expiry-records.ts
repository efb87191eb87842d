/**
 * ExpiryRecords: how a shard worker's leader stores log the TYPE_EXPIRE record of each expiring
 * write (docs/api.md, "TTL"), on top of the write path (store-writes.ts).
 *
 * A leader's expiring writes come here once durable (`remember`), and `reap` logs TYPE_EXPIRE when
 * they expire, if the key still holds that very write. A store that becomes a leader (opened as
 * one, or promoted) first has its expiring values scanned in (`learnExpiries`, expiry-scan.ts): it
 * never saw those writes. The reaper (expiry-reaper.ts) remembers only what expires within its
 * horizon; later expiries are found again by a rescan of their store in time. An expiry due while
 * a fence holds the store's writes waits for the fence's release (`released`), one due under a
 * newer write in flight for that write to settle, and a failed expire record is tried again
 * EXPIRE_RETRY_MS later: nothing drops an expiry that its key still holds, but for a key it cannot
 * read (a damaged value) or a store that refuses the record at once, which it logs and drops.
 * The expire record is a write the worker makes itself: seen by `current` while in flight, waited
 * for by a fence and published once durable (ExpiryWritePath.issued).
 *
 * Owned by one shard worker thread.
 */
import type { Logger } from 'pino';
import type { HostedStore } from '../replication/replication-host.js';
import type { WriteResult } from '../storage/store.js';
import { latin1Key } from '../util/bytes.js';
import { type Expiring, ExpiryReaper } from './expiry-reaper.js';
import { learnExpiries, REAP_HORIZON_MS, RescanTimers } from './expiry-scan.js';
import type { PendingWrites } from './pending-writes.js';

/** EXPIRE_RETRY_MS is how long after a failed expire record (disk full) the reaper tries again. */
const EXPIRE_RETRY_MS = 1000;

/** ExpiryWritePath is what ExpiryRecords needs of the write path (StoreWrites). */
export interface ExpiryWritePath {
  /** pending are the writes in flight: a reap waits for a newer write of its key. */
  readonly pending: PendingWrites;
  /** fenced tells whether a fence holds store `index`'s writes. */
  fenced(index: number): boolean;
  /** issued tracks `write`, a write of store `index` the worker makes itself, as a client write: fences wait for it, its seq is published once durable. */
  issued(index: number, write: Promise<WriteResult>): void;
}

/** ExpiryRecords logs the expiries of one worker's leader stores. */
export class ExpiryRecords {
  private readonly stores: Map<number, HostedStore>;
  private readonly writes: ExpiryWritePath;
  private readonly log: Logger | undefined;
  private closed = false;
  /**
   * held are, by store and key (latin1), the expiries that came due while a fence held its writes:
   * one per key, the newest write's, since every read of an expired key during the fence hands it
   * to the reaper again (a fence whose failover died held a list that grew by one entry per read).
   */
  private readonly held = new Map<number, Map<string, Expiring>>();
  /** rescans finds again, in time, the expiring writes beyond the reaper's horizon. */
  private readonly rescans: RescanTimers;
  /** reaper calls `reap` as each remembered expiry passes. */
  private readonly reaper: ExpiryReaper;

  /** The reaper remembers the expiries due within `reapHorizonMs` (expiry-scan.ts). */
  constructor(
    stores: Map<number, HostedStore>,
    writes: ExpiryWritePath,
    log?: Logger,
    reapHorizonMs = REAP_HORIZON_MS,
  ) {
    this.stores = stores;
    this.writes = writes;
    this.log = log;
    this.rescans = new RescanTimers((index) => {
      this.learnExpiries(index);
    }, reapHorizonMs / 2);
    const defer = (e: Expiring): void => {
      this.rescans.deferred(e);
    };
    this.reaper = new ExpiryReaper(
      (e) => {
        this.reap(e);
      },
      Date.now,
      { ms: reapHorizonMs, defer },
    );
  }

  /** remember hands the reaper an expiring write (durable on a leader, or found expired by a read; `key` is a copy). */
  remember(e: Expiring): void {
    this.reaper.add(e);
  }

  /**
   * learnExpiries has the reaper learn the expiries store `index` holds (it has just become a
   * leader: opened as one, or promoted; expiry-scan.ts); the scan stops if it stops leading.
   */
  learnExpiries(index: number): void {
    const hosted = this.stores.get(index);
    if (hosted?.spec.role !== 'leader') return;
    const { store } = hosted;
    const leads = (): boolean =>
      !this.closed && this.stores.get(index)?.store === store && hosted.spec.role === 'leader';
    const add = (e: Expiring): void => {
      this.reaper.add(e);
    };
    learnExpiries(store, index, add, leads).catch((err: unknown) => {
      // A store closed or failing under the scan: reads still queue what they find expired.
      this.log?.warn({ err, store: index }, `store ${index}: the expiry scan stopped: ${String(err)}`);
    });
  }

  /**
   * roleSet follows a role change of store `index` (`wasLeader`: its role before): a new leader
   * learns the expiries it holds, a leader that stays one reaps those its fence held back, and a
   * replica forgets them (its new leader logs them).
   */
  roleSet(index: number, wasLeader: boolean): void {
    if (!wasLeader) {
      this.held.delete(index);
      this.learnExpiries(index);
    } else this.released(index);
  }

  /** released hands the reaper again the expiries a fence of store `index` held back (reap checks its role). */
  released(index: number): void {
    const held = this.held.get(index);
    this.held.delete(index);
    for (const e of held?.values() ?? []) this.reaper.add(e);
  }

  /** heldCount is the number of expiries fences hold back, over all stores. */
  get heldCount(): number {
    let n = 0;
    for (const held of this.held.values()) n += held.size;
    return n;
  }

  /** close forgets every expiring write the reaper remembers and stops expiry scans. */
  close(): void {
    this.closed = true;
    this.held.clear();
    this.rescans.close();
    this.reaper.close();
  }

  /**
   * reap writes the TYPE_EXPIRE record of a remembered expiring write, if its store still leads and
   * the key still holds exactly that write (no newer write durable or in flight).
   */
  private reap(e: Expiring): void {
    if (this.closed) return;
    const hosted = this.stores.get(e.store);
    if (hosted?.spec.role !== 'leader') return;
    if (this.writes.fenced(e.store)) {
      // A fence holds every write: the expiry waits for its release.
      let held = this.held.get(e.store);
      if (held === undefined) this.held.set(e.store, (held = new Map<string, Expiring>()));
      const id = latin1Key(e.key);
      if ((held.get(id)?.seq ?? -1) < e.seq) held.set(id, e);
      return;
    }
    const pending = this.writes.pending;
    const inFlight = pending.settledOf(e.store, e.key);
    if (inFlight !== undefined) {
      // A newer write of the key settles first; if it fails, the key still holds this one.
      const again = (): void => {
        this.reap(e);
      };
      inFlight.then(again, again);
      return;
    }
    const { store } = hosted;
    let promise: Promise<WriteResult>;
    try {
      if (store.read(e.key, 0)?.seq !== e.seq) return;
      promise = store.expire(e.key);
    } catch (err) {
      // A value that cannot be read (damaged) or a store that refuses at once: thrown from the
      // reaper's timer it would end the worker. Reads of the key answer the error themselves.
      this.log?.warn(
        { err, store: e.store, key: e.key.toString('latin1') },
        `store ${e.store}: the expiry of a key was not logged: ${String(err)}`,
      );
      return;
    }
    const handle = pending.note(e.store, e.key, null, promise);
    const settle = (): void => {
      pending.settleNoted(handle, promise);
    };
    promise.then(settle, settle);
    this.writes.issued(e.store, promise);
    promise.catch(() => {
      // A failed expire record (disk full) is tried again later (and by any read that finds the key expired).
      this.reaper.add({ ...e, expiresAtMs: Date.now() + EXPIRE_RETRY_MS });
    });
  }
}
