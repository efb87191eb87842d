/**
 * An in-process leader/replica pair of LSM stores joined by a Follower, for replication tests
 * without threads or HTTP. The follower reads the leader directly (LocalSource) or, with
 * `ringBytes`, through a SharedArrayBuffer ring that falls back to the leader's log when lapped
 * (RingSource), as a replica on another worker does. `pause()`/`resume()` stop and restart the
 * follower, `restartReplica()` also closes and reopens the replica store, and `cut(true)` makes the
 * leader unreachable (every pull fails) until `cut(false)`. `onPublish` sees every position the
 * follower publishes, with the replica store as it is at that moment. With `sharedLog` both stores
 * write into one commit log, as on one worker, so a caught-up replica is fed in the leader's batches
 * (LocalSource.follow) instead of pulling. `reboot(vfs)` closes everything as a crashed process
 * leaves it and reopens both stores from `vfs` (a FaultyVfs's `crash()`), recovering them as a
 * worker does at start. With `retainLog` the leader keeps the log its replica needs, as a worker's
 * leader does; without it, what a lagging replica needs may be gone (it resyncs).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Follower, type FollowerPosition } from '../../src/replication/follower.js';
import type { FollowerState } from '../../src/replication/positions.js';
import { LeaderState } from '../../src/replication/leader-state.js';
import { LocalSource } from '../../src/replication/local-source.js';
import { RingConsumer, RingProducer } from '../../src/replication/ring.js';
import { RESYNC_MARKER } from '../../src/replication/resync-marker.js';
import { ringBytesFor } from '../../src/replication/ring-format.js';
import { RingSource } from '../../src/replication/ring-source.js';
import type {
  FollowRequest,
  PullResult,
  ReplicationSource,
  SnapshotStream,
} from '../../src/replication/source.js';
import type { CommitLog } from '../../src/storage/commit-log.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import type { Feed } from '../../src/storage/store-replication.js';
import type { Vfs } from '../../src/storage/vfs.js';
import { attachTestLsm, openTestGroup, openTestLsm, type TestLsmOptions, wipeStoreDir } from './lsm.js';

/** ReplicaPairOptions configure a pair: the stores' options plus the transport. */
export interface ReplicaPairOptions extends TestLsmOptions {
  /** ringBytes, when set, joins the pair through a ring of this capacity (else a LocalSource). */
  ringBytes?: number;
  /** sharedLog puts both stores in one commit log (as on one worker): the replica is fed directly. */
  sharedLog?: boolean;
  pullMaxBytes?: number;
  pullWaitMs?: number;
  /** onPublish is called with each published position and the replica store at that moment. */
  onPublish?: (p: FollowerPosition, replica: LsmStore) => void;
  /**
   * retainLog makes the leader keep the log its replica still needs, as a leader's worker does
   * (LeaderState retention from the replica's ack, `walRetentionBytes` 1 GiB unless given). Without it the leader's log keeps only its
   * in-memory tail (`ringBytes` long) once a flush made the rest durable, and a replica that falls
   * behind that is answered 'gone' and resyncs (what tests of a resync want).
   */
  retainLog?: boolean;
}

/** CuttableSource wraps a source; while `down`, every pull fails as an unreachable leader's would, and no feed runs. */
class CuttableSource implements ReplicationSource {
  readonly describe: string;
  private cutOff = false;
  private feeding: Feed | undefined;
  private readonly inner: ReplicationSource;

  constructor(inner: ReplicationSource) {
    this.inner = inner;
    this.describe = inner.describe;
  }

  get down(): boolean {
    return this.cutOff;
  }

  set down(down: boolean) {
    this.cutOff = down;
    if (down) this.feeding?.stop();
  }

  follow(r: FollowRequest): Feed | undefined {
    if (this.cutOff) return undefined;
    this.feeding = this.inner.follow?.(r);
    return this.feeding;
  }

  async pull(after: number, maxBytes: number, waitMs: number): Promise<PullResult> {
    if (this.down) {
      await new Promise((r) => setTimeout(r, 5));
      throw new Error('connect ECONNREFUSED (the test cut the leader off)');
    }
    return this.inner.pull(after, maxBytes, waitMs);
  }

  snapshot(): Promise<SnapshotStream> {
    if (this.down) return Promise.reject(new Error('connect ECONNREFUSED (the test cut the leader off)'));
    return this.inner.snapshot();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** ReplicaPair is a leader store and a following replica store. */
export class ReplicaPair {
  leader!: LsmStore;
  replica!: LsmStore;
  state: FollowerState = 'starting';
  /** position is the last position the follower published. */
  position: FollowerPosition | undefined;
  private follower: Follower | undefined;
  /** pastErrors counts the errors of the followers stopped so far. */
  private pastErrors = 0;
  private source: CuttableSource | undefined;
  private cutOff = false;
  private ring: SharedArrayBuffer | undefined;
  /** log is the commit log both stores share (sharedLog). */
  private log: CommitLog | undefined;
  /** keepAlive holds the event loop open: a pending Atomics.waitAsync (the ring's wait) does not. */
  private keepAlive: NodeJS.Timeout | undefined;
  /** vfs replaces the options' file system after a reboot. */
  private vfs: Vfs | undefined;
  private readonly dir: string;
  private readonly opts: ReplicaPairOptions;

  private constructor(dir: string, opts: ReplicaPairOptions) {
    this.dir = dir;
    // A worker's leader honours its replicas' retention for up to wal_retention_bytes (1 GiB by default).
    this.opts = opts.retainLog === true ? { walRetentionBytes: 1 << 30, ...opts } : opts;
  }

  static async open(dir: string, opts: ReplicaPairOptions = {}): Promise<ReplicaPair> {
    const p = new ReplicaPair(dir, opts);
    if (opts.ringBytes !== undefined) {
      p.ring = new SharedArrayBuffer(ringBytesFor(opts.ringBytes));
      p.keepAlive = setInterval(() => undefined, 1000);
    }
    await p.openStores(p.opts);
    p.resume();
    return p;
  }

  /** openStores opens (recovers) both stores and joins the leader's log to the ring, if any. */
  private async openStores(opts: TestLsmOptions): Promise<void> {
    const dir = this.dir;
    if (this.opts.sharedLog === true) {
      const g = await openTestGroup(join(dir, 'log'), [join(dir, 'leader'), join(dir, 'replica')], opts);
      this.log = g.log;
      this.leader = g.stores[0]!;
      this.replica = g.stores[1]!;
    } else {
      this.leader = await openTestLsm(join(dir, 'leader'), opts);
      this.replica = await openTestLsm(join(dir, 'replica'), opts);
    }
    if (this.opts.retainLog === true) {
      const state = new LeaderState(() => this.leader.lastSeq());
      state.addAckSource('replica', () => this.position?.ack ?? 0);
      this.leader.replication.setRetention(() => state.retainFrom());
    }
    if (this.ring !== undefined) {
      const producer = new RingProducer(this.ring);
      this.leader.replication.onLog((records, first, last) => {
        producer.publish(records, first, last);
      });
    }
  }

  /**
   * reboot models a process that died (its disk already crashed: writes fail) and started again
   * on `vfs`: stops the follower, lets the old stores fail as they close, recovers both stores from
   * `vfs` and (unless `follow` is false: then `resume()`) follows again.
   */
  async reboot(vfs: Vfs, follow = true): Promise<void> {
    await this.pause().catch(() => undefined);
    await this.replica.close().catch(() => undefined);
    await this.leader.close().catch(() => undefined);
    await this.log?.close().catch(() => undefined);
    this.log = undefined;
    this.vfs = vfs;
    await this.openStores({ ...this.opts, vfs });
    if (follow) this.resume();
  }

  /** errors counts the errors every follower of the pair met (a failed pull or apply, a refused batch). */
  errors(): number {
    return this.pastErrors + (this.follower?.counters.errors ?? 0);
  }

  resume(): void {
    const replicaDir = join(this.dir, 'replica');
    let rebuilt: LsmStore | undefined;
    const local = new LocalSource(() => this.leader.replication, 'test leader');
    const inner: ReplicationSource =
      this.ring === undefined
        ? local
        : new RingSource(new RingConsumer(this.ring), local, 'test ring', () => this.leader.lastSeq());
    this.source = new CuttableSource(inner);
    this.source.down = this.cutOff;
    this.follower = new Follower({
      source: this.source,
      store: () => this.replica.replication,
      rebuild: async () => {
        await this.replica.close();
        wipeStoreDir(replicaDir, this.vfs ?? this.opts.vfs, true);
        rebuilt = await this.openReplica();
        return rebuilt.replication;
      },
      reopen: async () => {
        await (rebuilt ?? this.replica).close();
        rebuilt = undefined;
        this.replica = await this.openReplica();
        return this.replica.replication;
      },
      publish: (p) => {
        this.state = p.state;
        this.position = p;
        this.opts.onPublish?.(p, this.replica);
      },
      resyncMarker: join(replicaDir, RESYNC_MARKER),
      pullMaxBytes: this.opts.pullMaxBytes ?? 64 * 1024,
      pullWaitMs: this.opts.pullWaitMs ?? 50,
    });
    this.follower.start();
  }

  async pause(): Promise<void> {
    const f = this.follower;
    this.follower = undefined;
    await f?.stop();
    this.pastErrors += f?.counters.errors ?? 0;
  }

  /** restartReplica stops the follower, closes and reopens the replica store, and follows again. */
  async restartReplica(): Promise<void> {
    await this.pause();
    await this.replica.close();
    this.replica = await this.openReplica();
    this.resume();
  }

  /** openReplica opens the replica store again: into the shared log, or with a log of its own. */
  private openReplica(): Promise<LsmStore> {
    const dir = join(this.dir, 'replica');
    const o = { ...this.opts, ...(this.vfs === undefined ? {} : { vfs: this.vfs }) };
    return this.log === undefined ? openTestLsm(dir, o) : attachTestLsm(this.log, dir, o);
  }

  /** cut makes the leader unreachable for the follower (`true`) or reachable again (`false`). */
  cut(down: boolean): void {
    this.cutOff = down;
    if (this.source !== undefined) this.source.down = down;
  }

  /** caughtUp waits until the replica holds the leader's last seq (or throws after `ms`). */
  async caughtUp(ms = 20000): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.replica.lastSeq() < this.leader.lastSeq()) {
      if (Date.now() > deadline)
        throw new Error(`replica at ${this.replica.lastSeq()}, leader at ${this.leader.lastSeq()}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** resyncing says the replica holds a resync's marker: its content is not exact at its seq until it reaches the marker's. */
  resyncing(): boolean {
    return existsSync(join(this.dir, 'replica', RESYNC_MARKER));
  }

  resyncs(): number {
    return this.follower?.counters.resyncs ?? 0;
  }

  async close(): Promise<void> {
    await this.pause();
    clearInterval(this.keepAlive);
    try {
      await this.replica.close();
    } finally {
      try {
        await this.leader.close();
      } finally {
        await this.log?.close();
      }
    }
  }
}

/** dump returns every live key and value of a store, in order. */
export function dump(store: Pick<LsmStore, 'scan'>): [string, string][] {
  const out: [string, string][] = [];
  let after: Uint8Array | undefined;
  for (;;) {
    const page = store.scan(new Uint8Array(0), after, 5000);
    if (page.length === 0) return out;
    for (const e of page)
      out.push([Buffer.from(e.key).toString('latin1'), Buffer.from(e.value).toString('latin1')]);
    after = page[page.length - 1]!.key;
  }
}
