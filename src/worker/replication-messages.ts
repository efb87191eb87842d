/**
 * ReplicationMessages: a shard worker's answers to the replication control messages (messages.ts)
 * that the main thread relays for the HTTP replication endpoints and for failover:
 *  - `repl-pull` / `repl-snapshot`: a replica of another process pulling this worker's leader's log
 *    records, or a snapshot page when the log no longer holds them (docs/architecture.md,
 *    "Replication");
 *  - `seed-next` / `seed-ack`: the seed's replication cursor (src/replication/seed-cursor.ts);
 *  - `fence` / `set-role`: a failover holding a leader's client writes (or its target replica's
 *    following), then turning the store over to its new role (docs/failover.md);
 *  - `end-pulls`: the process stops; its leaders' parked pulls are answered at once, after the
 *    writes they accepted settled (src/util/stop-wakes.ts), and so are the OP_WAITs of RESP
 *    WAITs (replica-waits.ts).
 *
 * The replication itself is the worker's ReplicationHost; this module only turns each message into
 * its call and the result into its reply, copying out of views the next call invalidates. The
 * fence lives with the write path (store-writes.ts), which refuses writes while it holds.
 */
import type { ReplicationHost } from '../replication/replication-host.js';
import { encodeSnapshotEntries, encodeSnapshotHeader, snapshotCrc } from '../replication/snapshot-format.js';
import { scanPageFull } from '../storage/store.js';
import type { FromWorker, ToWorker } from './messages.js';
import type { StoreWrites } from './store-writes.js';
import type { WorkerStores } from './worker-stores.js';

type Message<T extends ToWorker['type']> = Extract<ToWorker, { type: T }>;

/** REPLICA_HOLD_MS bounds a replica's hold when the message names no limit. */
const REPLICA_HOLD_MS = 60000;

/** ReplicationMessages answers one worker's replication control messages. */
export class ReplicationMessages {
  private readonly stores: WorkerStores;
  private readonly writes: StoreWrites;
  private readonly replication: () => ReplicationHost;

  /** `replication` returns the worker's ReplicationHost, or throws UNAVAILABLE when it is not running. */
  constructor(stores: WorkerStores, writes: StoreWrites, replication: () => ReplicationHost) {
    this.stores = stores;
    this.writes = writes;
    this.replication = replication;
  }

  /** fence holds or releases a leader's client writes; the reply names its last seq once its writes in flight settled. */
  async fence(msg: Message<'fence'>): Promise<FromWorker> {
    if (this.stores.hosted.get(msg.store)?.spec.role === 'replica') {
      // A promotion's target: it stops following, so the position it answers stays its last seq.
      const ms = msg.ms ?? REPLICA_HOLD_MS;
      const lastSeq = await this.replication().holdFollowing(msg.store, msg.on, ms);
      return { type: 'fence-result', id: msg.id, ok: true, lastSeq };
    }
    const store = this.stores.at(msg.store);
    // Writes accepted before the fence finish first: the seq reported covers every one of them.
    await this.writes.fence(msg.store, msg.on);
    return { type: 'fence-result', id: msg.id, ok: true, lastSeq: store.lastSeq() };
  }

  /**
   * setRole turns a store over to the role of its new spec (releasing its fence). A leader that
   * stops leading first holds its client writes and waits for those in flight: a forced failover
   * could not fence it, so some may still be in its group commit, and each that becomes durable is
   * acknowledged; the store's records above the fork, saved next, must hold it (docs/failover.md).
   */
  async setRole(msg: Message<'set-role'>): Promise<FromWorker> {
    const wasLeader = this.stores.hosted.get(msg.store)?.spec.role === 'leader';
    if (wasLeader && msg.spec.role !== 'leader') await this.writes.fence(msg.store, true);
    this.writes.unfence(msg.store);
    await this.replication().setRole(msg.store, msg.spec, msg.fork ?? undefined);
    this.writes.roleSet(msg.store, wasLeader);
    return { type: 'set-role-result', id: msg.id, ok: true };
  }

  /**
   * endPulls settles the writes this worker's leaders accepted (a write is in its store's log once
   * written: the answers then carry every write acknowledged before the stop), then wakes their
   * parked pulls and keeps later ones from waiting. The replicas in other processes then pull no
   * more: the OP_WAITs (a RESP WAIT's slices) are answered with the replicas holding their seq now.
   */
  async endPulls(msg: Message<'end-pulls'>): Promise<FromWorker> {
    const leaders = [...this.stores.hosted].filter(([, h]) => h.spec.role === 'leader');
    await Promise.all(leaders.map(([index]) => this.writes.settled(index)));
    this.writes.waits.end();
    this.replication().endPulls();
    return { type: 'end-pulls-result', id: msg.id, ok: true };
  }

  /** pull answers a replica's pull with a copy of the log records after its ack. */
  async pull(msg: Message<'repl-pull'>): Promise<FromWorker> {
    const r = await this.replication().pull(
      msg.store,
      msg.after,
      msg.maxBytes,
      msg.waitMs,
      msg.replica,
      msg.epoch,
      msg.history,
      msg.ladder,
    );
    const copy = r.records.length === 0 ? null : Uint8Array.prototype.slice.call(r.records).buffer;
    return {
      type: 'repl-pull-result',
      id: msg.id,
      ok: true,
      gone: r.gone,
      buffer: copy,
      length: r.records.length,
      leaderSeq: r.leaderSeq,
      epoch: r.epoch,
      recordsEpoch: r.recordsEpoch,
      fork: r.fork ?? null,
      history: r.history ?? null,
      stopping: r.stopping,
    };
  }

  /**
   * snapshotPage answers one page of a leader's snapshot, encoded (snapshot-format.ts) into a
   * buffer of its own that the reply carries (copied, not transferred: reply-batch.ts says why):
   * cloning thousands of entries as objects costs more. The page
   * is `last` only when the scan reached the end: one that stopped at its count or its bytes is
   * followed by another after its last key (which may be empty). The page's bytes are added to the
   * snapshot's crc here, on the worker that wrote them, so that the front door's thread does not
   * pass over them again: the first page's crc starts with the header the front door writes for
   * its seq (snapshot-format.ts).
   */
  snapshotPage(msg: Message<'repl-snapshot'>): FromWorker {
    const bounds = { limit: msg.limit, maxBytes: msg.maxBytes };
    const page = this.replication().snapshotPage(msg.store, msg.after, bounds, msg.seq);
    const last = !scanPageFull(page.entries, msg.limit, msg.maxBytes);
    const body = encodeSnapshotEntries(page.entries, last);
    const crc = snapshotCrc(body, msg.crc ?? snapshotCrc(encodeSnapshotHeader(page.seq), 0));
    const buffer = Uint8Array.prototype.slice.call(body).buffer;
    const lastEntry = page.entries[page.entries.length - 1];
    const lastKey = lastEntry === undefined ? null : Uint8Array.prototype.slice.call(lastEntry.key);
    return {
      type: 'repl-snapshot-result',
      id: msg.id,
      ok: true,
      seq: page.seq,
      buffer,
      length: body.length,
      count: page.entries.length,
      last,
      lastKey,
      crc,
      history: page.history ?? null,
    };
  }

  /** seedNext answers the oldest change not yet acknowledged on the seed cursor. */
  seedNext(msg: Message<'seed-next'>): FromWorker {
    return {
      type: 'seed-result',
      id: msg.id,
      ok: true,
      change: this.replication().seedNext(msg.stores) ?? null,
      acked: false,
    };
  }

  /** seedAck advances the seed cursor past the matching change. */
  seedAck(msg: Message<'seed-ack'>): FromWorker {
    return {
      type: 'seed-result',
      id: msg.id,
      ok: true,
      change: null,
      acked: this.replication().seedAck(msg.stores, msg.key, msg.value),
    };
  }
}
