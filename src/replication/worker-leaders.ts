/**
 * WorkerLeaders: the leader side of one shard worker's replication (ReplicationHost holds it beside
 * its replicas' followers). For each leader store it keeps a LeaderState (replica acks, `w=N`
 * waits, the log retention hook, the rings it feeds replicas on other workers through) and answers
 * pulls (pull-answer.ts), snapshot pages and the seed protocol's cursor (seed-cursor.ts), in the
 * epochs its own epoch starts say it leads (epoch-starts.ts). A leader store that starts leading
 * without a history id gets a new one (history-check.ts): its history begins here.
 * At the process's stop, `endPulls` wakes the leaders' parked pulls and keeps later ones from
 * parking (src/util/stop-wakes.ts), so the stop does not wait out its replicas' long polls.
 * Invariant: a store has a LeaderState exactly while it leads here with a replication seam; a
 * state dropped (a demotion) feeds its rings nothing more.
 */
import type { Logger } from 'pino';
import { DistkvError } from '../errors.js';
import { scanOwnSlots } from '../storage/own-slots.js';
import type { StoreEntry as ScanEntry } from '../storage/store.js';
import type { StoreReplication } from '../storage/store-replication.js';
import { newHistoryId } from '../storage/history-format.js';
import { EpochStarts } from './epoch-starts.js';
import type { ShardEpochs } from './epochs.js';
import { type Positions, SLOT_LAST_SEQ } from './positions.js';
import { LeaderState } from './leader-state.js';
import { RingProducer } from './ring.js';
import { SeedCursors } from './seed-cursor.js';
import { answerPull, type PullAnswer } from './pull-answer.js';
import type { LadderEntry } from './record-ladder.js';
import { StopWakes } from '../util/stop-wakes.js';
import type { HostedStore } from './replica-rebuilds.js';

/** WorkerLeaders keeps the LeaderStates of a worker's leader stores and answers their replicas. */
export class WorkerLeaders {
  private readonly stores: Map<number, HostedStore>;
  private readonly positions: Positions;
  private readonly states = new Map<number, LeaderState>();
  private readonly seedCursors = new SeedCursors((index) => {
    const log = this.store(index); // UNAVAILABLE unless it leads here
    return { dir: this.stores.get(index)!.spec.dir, log, epochs: this.epochs(index) };
  });
  /** epochStarts are where promoted leaders' own epochs start (epoch-starts.ts). */
  private readonly epochStarts: EpochStarts;
  /** pullEnd cuts the leaders' long polls short once the process stops (endPulls). */
  private readonly pullEnd = new StopWakes();

  private readonly log: Logger | undefined;

  constructor(stores: Map<number, HostedStore>, positions: Positions, log: Logger | undefined) {
    this.stores = stores;
    this.positions = positions;
    this.log = log;
    this.epochStarts = new EpochStarts(log);
  }

  /** open starts leader store `index` as the worker opened it (its epoch starts recalled from its directory). */
  open(index: number, h: HostedStore): void {
    this.epochStarts.recall(index, h.spec);
    this.start(index, h);
  }

  /** promote starts store `index`, turned leader by a newer map (`h.spec`), its own epoch starting after its last seq. */
  promote(index: number, h: HostedStore): void {
    this.epochStarts.place(index, h.spec, h.store.replication?.lastSeq());
    this.start(index, h);
  }

  /** drop forgets store `index`'s leader state (its pending `w=N` waits time out) and epoch starts: it leads no more. */
  drop(index: number, h: HostedStore): void {
    if (this.states.delete(index)) h.store.replication?.setRetention(() => undefined);
    this.epochStarts.forget(index);
  }

  /** state is leader store `index`'s LeaderState, undefined unless it leads here. */
  state(index: number): LeaderState | undefined {
    return this.states.get(index);
  }

  /** epochs is what leader store `index` answers pulls with (epoch-starts.ts). */
  epochs(index: number): ShardEpochs {
    return this.epochStarts.of(index, this.stores.get(index)!.spec);
  }

  private start(index: number, h: HostedStore): void {
    const leader = h.store.replication;
    if (leader === undefined) return;
    // Every frame this store writes from now on carries the epoch it leads in.
    leader.epoch = h.spec.epoch ?? 0;
    this.beginHistory(h, leader);
    const state = new LeaderState(() => leader.lastSeq());
    this.states.set(index, state);
    // The log keeps what a replica or the seed-compatible cursor (once used) has yet to read.
    leader.setRetention(() => {
      const replicas = state.retainFrom();
      const seed = this.seedCursors.position(index);
      if (seed === undefined) return replicas;
      return Math.min(replicas ?? Number.POSITIVE_INFINITY, seed + 1);
    });
    for (const ring of h.spec.rings ?? []) {
      const producer = new RingProducer(ring.buffer);
      // Only while this store leads with this state: after a demotion its log comes from the new leader.
      leader.onLog((records, first, last) => {
        if (this.states.get(index) === state) producer.publish(records, first, last);
      });
      // A ring replica pulls nothing from us: its ack is read from the shared positions.
      state.addAckSource(ring.replicaNode, () => this.positions.get(ring.replicaStore, SLOT_LAST_SEQ));
    }
  }

  /**
   * beginHistory gives leader store `leader` (slot `h`) a new history id when its history begins:
   * it has none and holds nothing. A store that holds records without an id (written before ids, or
   * a replica promoted before it took its leader's) is left without one, its pulls answered
   * unchecked as before ids: named anew, its old leader returning as its replica, holding the same
   * records under another id, was sent a fork at 0, a divergence file of records nobody lost and a
   * resync from scratch (test/e2e/upgrade-65-promoted-before-history.test.ts). One it could not keep
   * (its disk refused the file) is logged and left out, and its next start tries again.
   */
  private beginHistory(h: HostedStore, leader: StoreReplication): void {
    if (leader.history !== undefined || leader.lastSeq() > 0) return;
    const id = newHistoryId();
    try {
      leader.setHistory(id);
      this.log?.info(
        { shard: h.spec.shard.name, node: h.spec.node, history: id, seq: leader.lastSeq() },
        `replication: ${h.spec.shard.name} on ${h.spec.node} begins a history, named ${id}`,
      );
    } catch (err) {
      this.log?.warn(
        { shard: h.spec.shard.name, node: h.spec.node, err: (err as Error).message },
        `replication: ${h.spec.shard.name} on ${h.spec.node} could not keep a history id: its replicas' pulls are not checked for another history`,
      );
    }
  }

  /** pull answers a replica's pull for leader store `store` (ReplicationHost.pull); `history` is the replica's id, `ladder` its record ladder. */
  async pull(
    store: number,
    after: number,
    maxBytes: number,
    waitMs: number,
    replica: string,
    epoch: number,
    history?: string,
    ladder?: readonly LadderEntry[],
  ): Promise<PullAnswer> {
    this.store(store); // UNAVAILABLE unless it leads here, before its epochs are read
    const state = this.states.get(store);
    return answerPull(
      {
        name: `store ${store}`,
        store: () => this.store(store),
        epochs: () => this.epochs(store),
        ack: (node, seq) => state?.ack(node, seq),
        restartFork: (node, after) => state?.restartFork(node, after),
        end: this.pullEnd,
      },
      {
        after,
        maxBytes,
        waitMs,
        replica,
        epoch,
        ...(history === undefined ? {} : { history }),
        ...(ladder === undefined ? {} : { ladder }),
      },
    );
  }

  /** endPulls answers every parked pull at once, and every later one without waiting (ReplicationHost.endPulls). */
  endPulls(): void {
    this.pullEnd.end();
  }

  /**
   * snapshotPage returns the snapshot seq (fixed by the first page), a page of entries and the
   * leader's history id (ReplicationHost.snapshotPage).
   */
  snapshotPage(
    store: number,
    after: Uint8Array | null,
    page: { limit: number; maxBytes: number },
    seq: number | null,
  ): { seq: number; entries: ScanEntry[]; history: string | undefined } {
    const leader = this.store(store);
    const s = seq ?? leader.lastSeq();
    // A replica rebuilt from this snapshot pulls from its seq: a position the leader vouches for,
    // and keeps in its log meanwhile (every page renews it).
    this.states.get(store)?.servedSnapshot(s);
    // Only the shard's slots, as reads and scans see it (src/storage/own-slots.ts): a backup made
    // after a layout change must not carry the keys left behind, stale beside their new owner's.
    const range = this.stores.get(store)!.spec.shard;
    const empty = new Uint8Array(0);
    const entries = scanOwnSlots(leader, range, empty, after ?? undefined, page.limit, page.maxBytes);
    return { seq: s, entries, history: leader.history };
  }

  /** seedNext returns the next change for the seed's replication protocol across `stores` (leader indexes, shard order). */
  seedNext(stores: readonly number[]): { key: string; value: string } | undefined {
    const n = this.seedCursors.next(stores);
    return n === undefined ? undefined : { key: n.key, value: n.value };
  }

  /** seedAck acknowledges (key, value) on whichever of `stores` offers it next; returns whether one did. */
  seedAck(stores: readonly number[], key: string, value: string): boolean {
    return this.seedCursors.ack(stores, key, value);
  }

  /** waitForAcks resolves with how many replicas of leader `store` hold `seq`, once `n` do or after `timeoutMs`. */
  waitForAcks(store: number, seq: number, n: number, timeoutMs: number): Promise<number> {
    const state = this.states.get(store);
    return state === undefined ? Promise.resolve(0) : state.waitForAcks(seq, n, timeoutMs);
  }

  private store(index: number): StoreReplication {
    const h = this.stores.get(index);
    const leader = h?.spec.role === 'leader' ? h.store.replication : undefined;
    if (leader === undefined)
      throw new DistkvError('UNAVAILABLE', `store ${index} is not a replicating leader on this worker`);
    return leader;
  }
}
