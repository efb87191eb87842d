/**
 * StoreWrites: the write path of a shard worker's stores, from issue to reply.
 *
 * A write is issued to its store at once and noted in `pending` (pending-writes.ts), so reads and
 * read-modify-writes of the same batch see it; it is answered when its store reports it durable
 * (after the group commit's fsync), and with `w` > 0 only once `w` replicas hold it
 * (REPLICATION_TIMEOUT after `timeoutMs`, or at once when the process stops: replica-waits.ts; the
 * write is kept, as with Redis WAIT). Each durable write
 * raises its store's last seq in the shared positions array.
 *
 * Client writes are executed only by a store whose role is leader and that is not fenced; any other
 * gets SWITCHING_LEADER (503, not executed). That holds whatever the main thread's routing tables
 * say while a live map changes roles (docs/failover.md): a write batched before a demotion can no
 * longer land on a store that now follows another leader. A fence waits for the store's writes
 * not yet settled (`unsettled`, unsettled.ts), so the seq it reports covers every write accepted before it.
 *
 * TTL (docs/api.md, "TTL"): a leader's expiring writes go to ExpiryRecords (expiry-records.ts)
 * once durable, which logs TYPE_EXPIRE when they expire, if the key still holds that very write,
 * as a write the worker makes itself (`issued`).
 *
 * Owned by one shard worker thread.
 */
import type { Logger } from 'pino';
import { DistkvError } from '../errors.js';
import type { HostedStore, ReplicationHost } from '../replication/replication-host.js';
import { type Positions, SLOT_LAST_SEQ } from '../replication/positions.js';
import { type Store, tellSink, type WriteResult, type WriteSink } from '../storage/store.js';
import type { Expiring } from './expiry-reaper.js';
import { ExpiryRecords } from './expiry-records.js';
import { REAP_HORIZON_MS } from './expiry-scan.js';
import { ST_DONE, ST_MISSING } from './op-format.js';
import { PendingWrites } from './pending-writes.js';
import { type Acks, ReplicaWaits } from './replica-waits.js';
import type { ReplyBatch } from './reply-batch.js';
import { Unsettled } from './unsettled.js';
import { WriteTickets } from './write-tickets.js';

/**
 * StoreWrites issues the writes of one worker's stores and answers them once durable. It is the
 * WriteSink (store.ts) its stores tell the outcome of plain writes to (`written`, `refused`).
 */
export class StoreWrites implements WriteSink {
  /** tickets are the plain writes in flight (write-tickets.ts), answered through `written` and `refused`. */
  private readonly tickets = new WriteTickets();
  /** pending holds writes issued but not yet durable, so reads and read-modify-writes see them. */
  readonly pending = new PendingWrites(undefined, undefined, (t) => this.tickets.settled(t));
  private readonly stores: Map<number, HostedStore>;
  private readonly positions: Positions;
  private readonly replies: ReplyBatch;
  /** fenced stores refuse client writes; unsettled holds the stores' writes not yet settled. */
  private readonly fenced = new Set<number>();
  private readonly unsettled = new Unsettled();
  /** expiries logs the expiry of leader stores' expiring writes. */
  private readonly expiries: ExpiryRecords;
  /** waits answers OP_WAIT and the replica waits of `w` ops; the process's stop answers them at once (replica-waits.ts). */
  readonly waits: ReplicaWaits;

  /**
   * `replication` returns the worker's ReplicationHost, or throws UNAVAILABLE when it is not
   * running; the reaper remembers the expiries due within `reapHorizonMs` (expiry-scan.ts).
   */
  constructor(
    stores: Map<number, HostedStore>,
    positions: Positions,
    replies: ReplyBatch,
    replication: () => ReplicationHost,
    log?: Logger,
    reapHorizonMs = REAP_HORIZON_MS,
  ) {
    this.expiries = new ExpiryRecords(
      stores,
      {
        pending: this.pending,
        fenced: (index) => this.fenced.has(index),
        issued: (index, write) => {
          this.trackUnsettled(index, write);
          this.publish(index, write, true);
        },
      },
      log,
      reapHorizonMs,
    );
    this.stores = stores;
    this.positions = positions;
    this.replies = replies;
    this.waits = new ReplicaWaits(replies, replication);
  }

  /** remember hands the reaper an expiring write (a read found it expired; `key` is a copy). */
  remember(e: Expiring): void {
    this.expiries.remember(e);
  }

  /** fence holds (on) or releases client writes of store `index`, then waits for its writes accepted before. */
  fence(index: number, on: boolean): Promise<unknown> {
    if (on) this.fenced.add(index);
    else {
      this.fenced.delete(index);
      this.expiries.released(index);
    }
    return this.settled(index);
  }

  /** settled resolves once the writes store `index` accepted so far have settled (durable or failed). */
  settled(index: number): Promise<unknown> {
    return Promise.allSettled([...this.unsettled.of(index), ...this.tickets.of(index)]);
  }

  /** unfence releases store `index`'s client writes (its role is being set anew: `roleSet` follows). */
  unfence(index: number): void {
    this.fenced.delete(index);
  }

  /**
   * roleSet follows a role change of store `index` (`wasLeader`: its role before): a new leader
   * learns the expiries it holds, a leader that stays one reaps those its fence held back, and a
   * replica forgets them (its new leader logs them).
   */
  roleSet(index: number, wasLeader: boolean): void {
    this.expiries.roleSet(index, wasLeader);
  }

  /** learnExpiries has the reaper learn the expiries store `index` holds (it has just become a leader; expiry-records.ts). */
  learnExpiries(index: number): void {
    this.expiries.learnExpiries(index);
  }

  /** close forgets every expiring write the reaper remembers and stops expiry scans. */
  close(): void {
    this.expiries.close();
  }

  /** checkWritable throws SWITCHING_LEADER unless store `index` is a leader and not fenced. */
  checkWritable(index: number): void {
    const role = this.stores.get(index)?.spec.role;
    if (role !== 'leader' || this.fenced.has(index))
      throw new DistkvError(
        'SWITCHING_LEADER',
        role === 'leader'
          ? `store ${index} holds writes while its shard's leader is switched; retry shortly`
          : `store ${index} is no longer its shard's leader; retry to reach the new one`,
      );
  }

  /** current returns the newest value of a key: a write in flight, else what the store holds. */
  current(index: number, store: Store, key: Uint8Array): Uint8Array | null | undefined {
    const p = this.pending.get(index, key);
    return p === undefined ? store.get(key) : p;
  }

  /** write issues a put (or, for null, a delete), visible to `current` at once, and replies when durable. */
  write(
    id: number,
    index: number,
    store: Store,
    key: Uint8Array,
    value: Uint8Array | null,
    w: number,
    timeoutMs: number,
    replyValue: Uint8Array | undefined,
    done: typeof ST_DONE | typeof ST_MISSING = ST_DONE,
    expiresAtMs = 0,
  ): void {
    this.checkWritable(index);
    // A ticket instead of a promise and its reactions (write-tickets.ts): this is every PUT's path.
    const reapKey = expiresAtMs > 0 ? Buffer.from(key) : undefined;
    const t = this.tickets.take(id, index, w, timeoutMs, replyValue, done, expiresAtMs, reapKey);
    this.tickets.setHandle(t, this.pending.note(index, key, value, t, expiresAtMs));
    try {
      if (store.writeTo !== undefined) store.writeTo(key, value, expiresAtMs, this, t);
      else tellSink(value === null ? store.delete(key) : store.put(key, value, expiresAtMs), this, t);
    } catch (err) {
      // Thrown before the store took the write (nothing will answer it): refused here.
      this.refused(t, err as Error);
    }
  }

  /** written: the write of ticket `t` is durable as `seq` (its store tells it; WriteSink). */
  written(t: number, seq: number): void {
    const k = this.tickets.release(t);
    const { settled } = k;
    this.pending.settleTicket(k.handle, t, seq, undefined);
    if (k.reapKey !== undefined)
      this.expiries.remember({ store: k.store, key: k.reapKey, seq, expiresAtMs: k.expiresAtMs });
    settled?.resolve({ seq });
    this.durable(k.id, k.store, seq, k.w, k.timeoutMs, k.replyValue, k.done);
  }

  /** refused: the write of ticket `t` failed with `err` (its store tells it; WriteSink). */
  refused(t: number, err: Error): void {
    const k = this.tickets.release(t);
    const { settled } = k;
    this.pending.settleTicket(k.handle, t, 0, err);
    this.replies.error(k.id, err);
    this.replies.flushSoon();
    settled?.reject(err);
  }

  /** issue starts a put (or, for null, a delete) that `current` sees at once and a fence waits for; a leader's expiring put goes to the reaper once durable. */
  issue(
    index: number,
    store: Store,
    key: Uint8Array,
    value: Uint8Array | null,
    expiresAtMs: number,
  ): Promise<WriteResult> {
    const promise = value === null ? store.delete(key) : store.put(key, value, expiresAtMs);
    // Each write on its own: a transaction's writes, answered together, may settle apart.
    this.trackUnsettled(index, promise);
    const handle = this.pending.note(index, key, value, promise, expiresAtMs);
    const settle = (): void => {
      this.pending.settleNoted(handle, promise);
    };
    promise.then(settle, settle);
    if (expiresAtMs > 0) {
      const copy = Buffer.from(key);
      promise.then(
        ({ seq }) => {
          this.expiries.remember({ store: index, key: copy, seq, expiresAtMs });
        },
        () => undefined,
      );
    }
    return promise;
  }

  /**
   * ownWrite issues a write the worker makes itself (purge.ts) as a client write of store `index`:
   * refused unless the store leads and is not fenced, seen by `current` at once, waited for by a
   * fence, and its seq published once durable.
   */
  ownWrite(index: number, store: Store, key: Uint8Array, value: Uint8Array | null): Promise<WriteResult> {
    this.checkWritable(index);
    const promise = this.issue(index, store, key, value, 0);
    this.publish(index, promise);
    return promise;
  }

  /** track replies to `write` (a transaction's writes, issued with `issue`, together) once durable, as `durable` does. */
  track(
    id: number,
    storeIndex: number,
    write: Promise<{ seq: number }>,
    w: number,
    timeoutMs: number,
    replyValue: Uint8Array | undefined,
  ): void {
    write.then(
      ({ seq }) => {
        this.durable(id, storeIndex, seq, w, timeoutMs, replyValue, ST_DONE);
      },
      (err: unknown) => {
        this.replies.error(id, err);
        this.replies.flushSoon();
      },
    );
  }

  /**
   * answerRead answers op `id`, which read `key` of store `index` and wrote nothing (a SET NX that
   * found the key, a DEL of a missing key, an edit with nothing to write), with `status` and
   * `value`: at once when no write of the key is in flight, else once that write is durable, as a
   * read waits (store-reads.ts): its answer may show that write, which a failed fsync could still
   * take back, so if it fails the op fails with it. `seq` undefined is the store's last seq when
   * answered.
   */
  answerRead(
    id: number,
    index: number,
    key: Uint8Array,
    status: typeof ST_DONE | typeof ST_MISSING,
    seq: number | undefined,
    value: Uint8Array,
  ): void {
    this.afterWriteOf(id, index, key, () => {
      this.replies.add(id, status, seq ?? this.positions.get(index, SLOT_LAST_SEQ), value);
    });
  }

  /**
   * refuseRead answers op `id` with `err`, which it found in what it read of `key` (an INCR of a
   * value that is not an integer, an APPEND past the limit), as `answerRead` answers: the value
   * may be that of a write in flight that fails.
   */
  refuseRead(id: number, index: number, key: Uint8Array, err: unknown): void {
    this.afterWriteOf(id, index, key, () => {
      this.replies.error(id, err);
    });
  }

  /** afterWriteOf runs `answer` at once when no write of `key` is in flight, else once it is durable (answering its error if it fails). */
  private afterWriteOf(id: number, index: number, key: Uint8Array, answer: () => void): void {
    const inFlight = this.pending.settledOf(index, key);
    if (inFlight === undefined) {
      answer();
      return;
    }
    inFlight.then(
      () => {
        answer();
        this.replies.flushSoon();
      },
      (err: unknown) => {
        this.replies.error(id, err);
        this.replies.flushSoon();
      },
    );
  }

  /** waitReplicas answers OP_WAIT: how many replicas hold `seq`, once `w` do, after `timeoutMs` or at the stop. */
  waitReplicas(id: number, index: number, seq: number, w: number, timeoutMs: number): void {
    this.waits.wait(id, index, seq, w, timeoutMs);
  }

  /** durable answers a write that is durable as `seq`: at once, or once `w` replicas hold it (or after `timeoutMs`). */
  private durable(
    id: number,
    storeIndex: number,
    seq: number,
    w: number,
    timeoutMs: number,
    replyValue: Uint8Array | undefined,
    done: typeof ST_DONE | typeof ST_MISSING,
  ): void {
    this.positions.raise(storeIndex, SLOT_LAST_SEQ, seq);
    if (w === 0) {
      this.replies.add(id, done, seq, replyValue);
      this.replies.flushSoon();
      return;
    }
    this.afterAcks(
      id,
      storeIndex,
      seq,
      w,
      timeoutMs,
      'the write is kept: it is durable on the leader',
      () => {
        this.replies.add(id, done, seq, replyValue);
      },
    );
  }

  /**
   * afterReplicas answers op `id`, a read of leader store `index` with `w` > 0 that saw writes up to
   * `seenSeq`, once `w` replicas hold everything the store had when it was answered (its last
   * seq, which covers `seenSeq`, the value's or the absence's cause: a ReadIndex-like bound), or
   * with REPLICATION_TIMEOUT after `timeoutMs`.
   */
  afterReplicas(
    id: number,
    index: number,
    seenSeq: number,
    w: number,
    timeoutMs: number,
    answer: () => void,
  ): void {
    const bound = Math.max(seenSeq, this.positions.get(index, SLOT_LAST_SEQ));
    this.afterAcks(id, index, bound, w, timeoutMs, 'read it again, or without w', answer);
  }

  /**
   * afterAcks runs `answer` once `w` replicas of store `storeIndex` hold `seq`, else answers op `id`
   * with REPLICATION_TIMEOUT after `timeoutMs` (`kept` ends its message: what became of the op).
   */
  private afterAcks(
    id: number,
    storeIndex: number,
    seq: number,
    w: number,
    timeoutMs: number,
    kept: string,
    answer: () => void,
  ): void {
    let acks: Promise<Acks>;
    try {
      acks = this.waits.acks(storeIndex, seq, w, timeoutMs);
    } catch (err) {
      // The worker is closing (its replication stopped): no replica count comes.
      this.replies.error(id, err);
      this.replies.flushSoon();
      return;
    }
    void acks.then(({ acked, stopped }) => {
      if (acked >= w) answer();
      else
        this.replies.error(
          id,
          new DistkvError(
            'REPLICATION_TIMEOUT',
            stopped
              ? `${acked} of ${w} replicas acknowledged seq ${seq} when the node began to stop (a stopping node waits for no replica); ${kept}`
              : `${acked} of ${w} replicas acknowledged seq ${seq} within ${timeoutMs} ms; ${kept}`,
          ),
        );
      this.replies.flushSoon();
    });
  }

  /**
   * publish raises store `index`'s last seq in the positions once `write`, a write the worker makes
   * itself, is durable; an expire record (`expiry`) leaves its last write seq alone (positions.ts).
   */
  private publish(index: number, write: Promise<WriteResult>, expiry = false): void {
    write.then(
      ({ seq }) => {
        if (expiry) this.positions.raiseByExpiry(index, seq);
        else this.positions.raise(index, SLOT_LAST_SEQ, seq);
      },
      () => undefined,
    );
  }

  /** trackUnsettled keeps a write in its store's unsettled set until it settles (a fence waits for them). */
  private trackUnsettled(storeIndex: number, write: Promise<unknown>): void {
    const slot = this.unsettled.add(storeIndex, write);
    const forget = (): void => {
      this.unsettled.delete(slot);
    };
    write.then(forget, forget);
  }
}
