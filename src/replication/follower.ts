/**
 * Follower: keeps one replica store a converging copy of its leader (design section 6).
 *
 * Loop: pull the leader's records after the replica's ack (long poll), apply them with the
 * leader's seqs into the replica's own WAL and memtable (durably), publish the new ack, repeat.
 * When the leader no longer retains the ack's successor (410 / 'gone'), the replica resyncs: its
 * store is wiped, refilled from a leader snapshot at seq S straight into LMDB, reopened so its log
 * continues at S + 1, and pulling resumes from S. An unreachable leader is retried with capped
 * exponential backoff while the replica keeps serving reads; state changes are logged once each.
 */
import type { Logger } from 'pino';
import type { LsmStore } from '../storage/lsm-store.js';
import type { ReplicationSource } from './source.js';

/** FollowerState says what a follower is doing; its number is what /cluster and /stats report. */
export const FOLLOWER_STATES = [
  'starting',
  'streaming',
  'catching-up',
  'resyncing',
  'disconnected',
  'stopped',
] as const;
/** FollowerState is one of FOLLOWER_STATES. */
export type FollowerState = (typeof FOLLOWER_STATES)[number];

/** FollowerOptions configure a follower. */
export interface FollowerOptions {
  source: ReplicationSource;
  /** store returns the replica store (it changes after a resync). */
  store: () => LsmStore;
  /** rebuild closes the replica store, wipes its directory and opens an empty store there (not yet serving). */
  rebuild: () => Promise<LsmStore>;
  /** reopen closes and reopens the replica store (after a snapshot, so its log continues after the snapshot seq). */
  reopen: () => Promise<LsmStore>;
  /** publish reports the durable ack, the leader's last seq as last seen, and the state. */
  publish: (ack: number, leaderSeq: number, state: FollowerState) => void;
  pullMaxBytes: number;
  pullWaitMs: number;
  /** resyncFirst rebuilds the store from a leader snapshot before the first pull (its log forked from the leader's). */
  resyncFirst?: boolean;
  log?: Logger;
}

const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 5000;

/** Follower runs the replication loop of one replica store. */
export class Follower {
  private readonly o: FollowerOptions;
  private state: FollowerState = 'starting';
  private stopped = false;
  private running: Promise<void> | undefined;
  private leaderSeq = 0;
  private lastError = '';
  /** counters for /stats. */
  readonly counters = { batches: 0, records: 0, resyncs: 0, errors: 0 };

  constructor(o: FollowerOptions) {
    this.o = o;
  }

  /** current reports the state and the leader's last seq as last seen. */
  current(): { state: FollowerState; leaderSeq: number; lastError: string } {
    return { state: this.state, leaderSeq: this.leaderSeq, lastError: this.lastError };
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** stop ends the loop; closing the source first aborts a pull in flight (a paused leader never answers it). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.setState('stopped');
    await this.o.source.close();
    await this.running;
  }

  private async loop(): Promise<void> {
    let backoff = BACKOFF_MIN_MS;
    let mustResync = this.o.resyncFirst === true;
    while (!this.stopped) {
      try {
        if (mustResync) {
          await this.resync();
          mustResync = false;
          continue;
        }
        const ack = this.o.store().lastSeq();
        const pulled = await this.o.source.pull(ack, this.o.pullMaxBytes, this.o.pullWaitMs);
        if (this.isStopped()) return;
        if (pulled === 'gone') {
          await this.resync();
          continue;
        }
        if (Number.isFinite(pulled.leaderSeq)) this.leaderSeq = pulled.leaderSeq;
        let applied = ack;
        if (pulled.records.length > 0) {
          applied = await this.o.store().applyReplicated(pulled.records);
          this.counters.batches++;
          this.counters.records += applied - ack;
          this.leaderSeq = Math.max(this.leaderSeq, applied);
        }
        this.setState(applied < this.leaderSeq ? 'catching-up' : 'streaming');
        this.o.publish(applied, this.leaderSeq, this.state);
        backoff = BACKOFF_MIN_MS;
      } catch (err) {
        if (this.isStopped()) return;
        this.counters.errors++;
        this.lastError = (err as Error).message;
        this.setState('disconnected', this.lastError);
        this.o.publish(this.safeAck(), this.leaderSeq, this.state);
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
      }
    }
  }

  /** isStopped reads the flag through a call: stop() flips it while the loop awaits. */
  private isStopped(): boolean {
    return this.stopped;
  }

  private async resync(): Promise<void> {
    this.setState('resyncing');
    this.counters.resyncs++;
    this.o.publish(this.safeAck(), this.leaderSeq, this.state);
    const snapshot = await this.o.source.snapshot();
    const fresh = await this.o.rebuild();
    let keys = 0;
    // One chunk is written while the next one is read.
    let writing: Promise<void> = Promise.resolve();
    for await (const chunk of snapshot.chunks) {
      await writing;
      writing = fresh.loadSnapshotChunk(chunk);
      keys += chunk.length;
    }
    await writing;
    await fresh.finishSnapshot(snapshot.seq);
    await this.o.reopen();
    this.o.log?.info(
      { source: this.o.source.describe, seq: snapshot.seq, keys },
      'replica rebuilt from a leader snapshot; pulling the log from its seq',
    );
  }

  private safeAck(): number {
    try {
      return this.o.store().lastSeq();
    } catch {
      return 0;
    }
  }

  private setState(next: FollowerState, detail?: string): void {
    // A pull or apply that was in flight when stop() ran must not bring the state back.
    if (next === this.state || this.state === 'stopped') return;
    const prev = this.state;
    this.state = next;
    const fields = {
      source: this.o.source.describe,
      from: prev,
      to: next,
      ...(detail === undefined ? {} : { error: detail }),
    };
    if (next === 'disconnected' && prev === 'starting')
      this.o.log?.info(fields, 'replication: waiting for the leader to come up');
    else if (next === 'disconnected')
      this.o.log?.warn(fields, 'replication: leader unreachable; retrying with backoff');
    else if (
      (prev === 'streaming' || prev === 'catching-up') &&
      (next === 'streaming' || next === 'catching-up')
    )
      this.o.log?.debug(fields, `replication: ${next}`);
    else this.o.log?.info(fields, `replication: ${next}`);
  }
}
