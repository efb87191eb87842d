/**
 * The watch side of one process (docs/watch.md): the feeds of its stores (one per watched store,
 * shared by every listener), the broadcasts of the live watchers (one per set of stores, prefix,
 * value choice and format) and the watchers, with a heartbeat that sends each watcher its
 * progress (and replicas' lag) and ends every stream with `resume` when a leader store it reads
 * has lost its lease, or when a peer's config gives one of the slots it reads another leader
 * (`disputed`: src/server/slot-gate.ts; checked per heartbeat, never per event).
 *
 * When the node drains, the stop ends every stream with `resume` (reason `draining`) at once
 * (`end`), stops the feeds and has the workers answer their parked polls (src/util/stop-wakes.ts): the stop
 * waits for every call in flight, and waited for the next heartbeat, then for the feeds' polls to
 * run out (up to HEARTBEAT_MS + FEED_WAIT_MS: 0.6-1.5 s where a node without watchers stopped in
 * under 0.1 s). The heartbeat still ends a stream it finds open while draining.
 */
import { DistkvError } from '../errors.js';
import type { HttpContext } from '../http/context.js';
import { lagHeader, replicaLag } from '../replication/lag.js';
import { epochOfSeq } from '../routing/version.js';
import type { WorkerPool } from '../server/worker-pool.js';
import type { Broadcast } from './broadcast.js';
import { Fanout } from './fanout.js';
import type { Feed, LogReader } from './feed.js';
import { LogPolls } from './log-polls.js';
import type { WireFormat } from './watch-event.js';
import type { ScanBounds, ScanPage, ShardSource, WatchDeps, WatchOptions, Watcher } from './watcher.js';

/** HEARTBEAT_MS is how often watchers get `progress` and the drain check runs. */
export const HEARTBEAT_MS = 1000;

const hubs = new WeakMap<WorkerPool, WatchHub>();

/** WatchHub holds the feeds and watchers of one process. */
export class WatchHub implements WatchDeps {
  private readonly ctx: HttpContext;
  private readonly live: Fanout;
  private readonly polls: LogPolls;
  private readonly watchers = new Set<Watcher>();
  /** cuts counts the streams ended with `resume`, by reason (/metrics). */
  readonly cuts = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  private constructor(ctx: HttpContext) {
    this.ctx = ctx;
    const pool = ctx.pool;
    this.polls = new LogPolls(async (worker, reads, waitMs) => {
      const r = await pool.call(worker, { type: 'watch-polls', reads, waitMs });
      if (r.type !== 'watch-polls-result')
        throw new DistkvError('INTERNAL', `watch-polls answered ${r.type}`);
      return r.answers;
    });
    // The feeds' long-polls go out together, one message per worker per turn (log-polls.ts).
    this.live = new Fanout(
      (src) => this.polls.reader(src.worker, src.store),
      (shard, seq) => this.epochOf(shard, seq),
    );
  }

  /** of returns the hub of the process `ctx` belongs to. */
  static of(ctx: HttpContext): WatchHub {
    let hub = hubs.get(ctx.pool);
    if (hub === undefined) hubs.set(ctx.pool, (hub = new WatchHub(ctx)));
    return hub;
  }

  /** add registers a running watcher (its heartbeat starts with the first). */
  add(w: Watcher): void {
    this.watchers.add(w);
    this.timer ??= setInterval(() => {
      this.beat();
    }, HEARTBEAT_MS);
  }

  /** remove forgets a watcher that ended. */
  remove(w: Watcher): void {
    this.watchers.delete(w);
    if (this.watchers.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** find returns the hub of `pool`'s process if a watch has made one. */
  static find(pool: WorkerPool): WatchHub | undefined {
    return hubs.get(pool);
  }

  /** cutOff counts a stream ended with `resume` (WatchDeps). */
  cutOff(reason: string): void {
    this.cuts.set(reason, (this.cuts.get(reason) ?? 0) + 1);
  }

  /**
   * end is the stop's (the node begins to drain): every stream ends with `resume` (reason
   * `draining`, its cursor the position it passed), the feeds stop, and every worker answers its
   * feeds' parked polls at once, and later ones without waiting (src/util/stop-wakes.ts). Resolves when every
   * worker did or could not (one not running has no poll parked).
   */
  async end(): Promise<void> {
    for (const w of [...this.watchers]) {
      w.cut('draining');
      this.remove(w);
    }
    this.live.stop();
    await this.ctx.pool.endWatch();
  }

  /** count is the number of live watchers (/metrics and tests). */
  get count(): number {
    return this.watchers.size;
  }

  /** reader reads `src`'s log alone (a catching-up watcher's reads: `watch-read`). */
  reader(src: ShardSource): LogReader {
    const pool = this.ctx.pool;
    return async (after, maxBytes, waitMs) => {
      const r = await pool.call(src.worker, {
        type: 'watch-read',
        store: src.store,
        after,
        maxBytes,
        waitMs,
      });
      if (r.type !== 'watch-read-result') throw new DistkvError('INTERNAL', `watch-read answered ${r.type}`);
      const records = r.buffer === null ? Buffer.alloc(0) : Buffer.from(r.buffer, 0, r.length);
      return { gone: r.gone, records, lastSeq: r.lastSeq, end: r.end, epoch: r.epoch };
    };
  }

  async scan(
    src: ShardSource,
    prefix: Buffer,
    after: Uint8Array | null,
    bounds: ScanBounds,
  ): Promise<ScanPage> {
    const r = await this.ctx.pool.call(src.worker, {
      type: 'watch-scan',
      store: src.store,
      prefix,
      after,
      ...bounds,
    });
    if (r.type !== 'watch-scan-result') throw new DistkvError('INTERNAL', `watch-scan answered ${r.type}`);
    return { entries: r.entries, seq: r.seq, last: r.last, epoch: r.epoch };
  }

  feed(src: ShardSource, pos: number): Feed {
    return this.live.feed(src, pos);
  }

  broadcast(
    sources: readonly ShardSource[],
    o: WatchOptions,
    format: WireFormat,
    positions: readonly number[],
  ): Broadcast | undefined {
    return this.live.broadcast(sources, o, format, positions);
  }

  lastSeq(src: ShardSource): number {
    return this.ctx.pool.lastSeq(src.store);
  }

  epochOf(shard: number, seq: number): number {
    const live = this.ctx.liveMap.current.shards.find((s) => s.idx === shard);
    return live === undefined || live.history.length === 0 ? 0 : epochOfSeq(live.history, seq);
  }

  /**
   * roleOf is the store's role now: a stream keeps its source across a failover (a demoted leader's
   * stream goes on reading it as a replica, and shows its lag), `src.role` is the role it opened with.
   */
  private roleOf(src: ShardSource): 'leader' | 'replica' {
    return this.ctx.plan.stores[src.store]?.role ?? src.role;
  }

  lag(src: ShardSource): string | undefined {
    if (this.roleOf(src) !== 'replica') return undefined;
    const leaderSeq = src.leaderStore === undefined ? undefined : this.ctx.pool.lastSeq(src.leaderStore);
    return lagHeader(
      replicaLag(this.ctx.pool.positions, src.store, leaderSeq, this.ctx.config.replication.pull_wait_ms),
    );
  }

  /**
   * leaseless tells whether `src` is a leader here without its lease (docs/failover.md): a replica
   * may lead the shard now, and this log would show none of its changes, so the watcher is told to
   * resume (it comes back to the node that leads it, or to this one once it follows).
   */
  private readonly leaseless = (src: ShardSource): boolean =>
    this.ctx.liveMap.leaderWithoutLease(this.roleOf(src), src.shard);

  /**
   * disputed tells whether `w` reads a slot a peer's config gives another leader: that leader may
   * take writes this stream would never show. The watcher resumes, and its new start is refused
   * until every node has the same file (watch-routes.ts).
   */
  private disputed(w: Watcher): boolean {
    const { shardMap, slotGate } = this.ctx;
    return w.follows(
      (src) => slotGate.disputedReads([shardMap.shard(src.shard).slots], w.prefixBytes).length > 0,
    );
  }

  private beat(): void {
    const draining = this.ctx.state.phase === 'draining';
    this.live.settle();
    for (const w of [...this.watchers]) {
      if (w.isClosed()) this.remove(w);
      else if (draining) w.cut('draining');
      else if (w.follows(this.leaseless)) w.cut('no-lease');
      else if (this.ctx.slotGate.some && this.disputed(w)) w.cut('disputed');
      else w.progress();
    }
    if (draining) this.live.stop();
  }
}
