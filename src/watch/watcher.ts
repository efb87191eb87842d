/**
 * One watch stream (docs/watch.md): for each watched shard, a position (the seq of the last record
 * passed) that only moves forward through the shard's log, in three modes:
 *  - catching up: reading the log after its position itself (paced by the client: it reads more
 *    only once what it sent has mostly drained);
 *  - snapshot: the log no longer holds its position, so it sends the shard's current matching keys
 *    between `snapshot-begin` and `snapshot-end`, then catches up after the snapshot's first seq;
 *  - live: subscribed to the shard's feed (feed.ts) once its position reached the feed's.
 * Once every shard is live and at its feed's position, the stream joins the broadcast of the
 * watchers that want the same bytes (broadcast.ts): from then on it is handed one shared buffer
 * per flush and does no work per event. A broadcast that ends (a feed reset) hands every shard
 * back to the first mode.
 * A live stream cannot slow anyone: if the client does not read and more than `maxBuffer` bytes wait
 * for it, it gets `resume` with its cursor and is closed (`cut`). It resumes with from=cursor.
 */
import { formatVersion, type Version } from '../routing/version.js';
import type { Broadcast, BroadcastMember } from './broadcast.js';
import type { SharedFlush } from './gathered-writes.js';
import type { Start } from './watch-cursor.js';
import {
  binaryVersion,
  recordJson,
  sharedBlock,
  valueFields,
  type WatchEvent,
  type WireFormat,
} from './watch-event.js';
import type { Feed, FeedSubscriber, LogReader } from './feed.js';
import { decodeLog, type LogRecord } from './store-log.js';

/** ShardSource is one watched shard as served here: which local store. */
export interface ShardSource {
  shard: number;
  worker: number;
  store: number;
  role: 'leader' | 'replica';
  /** leaderStore is a replica's leader store when it is in this process. */
  leaderStore: number | undefined;
}

/** ScanPage is one page of a snapshot. */
export interface ScanPage {
  entries: { key: Uint8Array; value: Uint8Array }[];
  seq: number;
  last: boolean;
}

/** WatchDeps is what a watcher needs from the node (watch-hub.ts provides it). */
export interface WatchDeps {
  reader(src: ShardSource): LogReader;
  scan(src: ShardSource, prefix: Buffer, after: Uint8Array | null, limit: number): Promise<ScanPage>;
  /** feed returns the running feed of a store, made to start after `pos` if there is none. */
  feed(src: ShardSource, pos: number): Feed;
  lastSeq(src: ShardSource): number;
  epochOf(shard: number, seq: number): number;
  /** lag is a replica's X-Distkv-Lag text (undefined for a leader). */
  lag(src: ShardSource): string | undefined;
  /**
   * broadcast returns the broadcast of `sources` (in shard order) for these options and format,
   * made if none runs, when it stands at `positions`; undefined when one runs elsewhere.
   */
  broadcast(
    sources: readonly ShardSource[],
    o: WatchOptions,
    format: WireFormat,
    positions: readonly number[],
  ): Broadcast | undefined;
}

/** WatchOutput is where a watcher's events go (an SSE response or a WebSocket). */
export interface WatchOutput {
  readonly format: WireFormat;
  /** emitBlock sends a block of encoded events shared with other watchers, then the cursor after them. */
  emitBlock(block: Buffer, cursor: string): void;
  /** emitShared writes a broadcast's flush (shared: never modified) after anything still waiting. */
  emitShared(flush: SharedFlush): void;
  /** emit sends one event: its type, its JSON, and the cursor after it. */
  emit(type: string, json: string, cursor: string): void;
  /** backlog is the bytes emitted and held back because the client does not read. */
  backlog(): number;
  /** drained resolves when the backlog is empty. */
  drained(): Promise<void>;
  /** end sends a last event and closes. */
  end(type: string, json: string, cursor: string): void;
}

/** WatchOptions are a stream's parameters. */
export interface WatchOptions {
  prefix: string;
  values: boolean;
  maxBuffer: number;
}

/** READ_BYTES is how much a catching-up watcher reads per call; SNAPSHOT_PAGE keys per snapshot page. */
export const READ_BYTES = 256 * 1024;
export const SNAPSHOT_PAGE = 1000;
const RETRY_MS = 200;

class ShardWatch implements FeedSubscriber {
  pos = 0;
  feed: Feed | undefined;
  readonly src: ShardSource;
  private readonly w: Watcher;
  constructor(src: ShardSource, w: Watcher) {
    this.src = src;
    this.w = w;
  }
  records(batch: readonly LogRecord[]): void {
    this.w.live(this, batch);
  }
  reset(): void {
    this.w.leaveLive(this);
  }
  failed(): void {
    this.w.cut('error');
  }
}

/** Watcher runs one watch stream. */
export class Watcher implements BroadcastMember {
  private readonly shards: ShardWatch[];
  private group: Broadcast | undefined;
  private readonly deps: WatchDeps;
  private readonly out: WatchOutput;
  private readonly o: WatchOptions;
  private readonly prefixBytes: Buffer;
  private closed = false;
  private lastCursor = '';
  private lastLag = '{}';

  constructor(sources: readonly ShardSource[], deps: WatchDeps, out: WatchOutput, o: WatchOptions) {
    this.shards = [...sources].sort((a, b) => a.shard - b.shard).map((s) => new ShardWatch(s, this));
    this.deps = deps;
    this.out = out;
    this.o = o;
    this.prefixBytes = Buffer.from(o.prefix, 'utf8');
  }

  /** start sends `hello` and begins every shard from its start. */
  start(starts: ReadonlyMap<number, Start>, elsewhere: Record<string, string>): void {
    const snapshotFirst: ShardWatch[] = [];
    for (const s of this.shards) {
      const start = starts.get(s.src.shard) ?? 'now';
      if (start === 'now') s.pos = this.deps.lastSeq(s.src);
      else {
        s.pos = start.seq;
        // A version whose epoch is not the one that wrote its seq names history a failover discarded.
        if (start.seq > 0 && this.deps.epochOf(s.src.shard, start.seq) !== start.epoch) snapshotFirst.push(s);
      }
    }
    this.emit({
      type: 'hello',
      shards: this.shards.map((s) => s.src.shard),
      elsewhere,
      cursor: this.cursor(),
    });
    for (const s of this.shards) this.follow(s, snapshotFirst.includes(s));
  }

  /** close stops the stream (the client is gone or the node drains). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.shards) this.unsubscribe(s);
    this.group?.remove(this);
    this.group = undefined;
  }

  /** isClosed reports whether the stream has stopped. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** progress sends the position (and replica lag) when it moved since the last cursor sent. */
  progress(): void {
    if (this.closed) return;
    const lag: Record<string, string> = {};
    for (const s of this.shards) {
      const l = this.deps.lag(s.src);
      if (l !== undefined) lag[String(s.src.shard)] = l;
    }
    const cursor = this.cursor();
    const lagText = JSON.stringify(lag);
    if (cursor === this.lastCursor && lagText === this.lastLag) return;
    this.lastLag = lagText;
    this.emit({ type: 'progress', cursor, ...(lagText === '{}' ? {} : { lag }) });
  }

  /** cut ends the stream with `resume` and the cursor to resume from. */
  cut(reason: string): void {
    if (this.closed) return;
    const cursor = this.cursor();
    this.close();
    this.out.end('resume', JSON.stringify({ type: 'resume', reason, cursor }), cursor);
  }

  /** live handles a feed batch for shard `s`. */
  live(s: ShardWatch, batch: readonly LogRecord[]): void {
    if (this.closed) return;
    const first = batch[0];
    if (first === undefined) return;
    if (first.seq > s.pos + 1) {
      // The feed moved past us (it was reset): read what we missed from the log.
      this.leaveLive(s);
      return;
    }
    if (first.seq === s.pos + 1) {
      // The usual case: the whole batch is new to us, so its encoding is shared with the others.
      this.emitBatch(s, batch);
    } else this.deliver(s, batch);
    if (this.out.backlog() > this.o.maxBuffer) this.cut('slow');
    else this.join();
  }

  /** shared takes a flush of its broadcast (BroadcastMember). */
  shared(flush: SharedFlush, positions: readonly number[], cursor: string): void {
    if (this.closed) return;
    this.shards.forEach((s, i) => (s.pos = positions[i]!));
    if (flush.data.length === 0) return;
    this.lastCursor = cursor;
    this.out.emitShared(flush);
    if (this.out.backlog() > this.o.maxBuffer) this.cut('slow');
  }

  /** dissolved: the broadcast ended; every shard catches up alone from `positions` (BroadcastMember). */
  dissolved(positions: readonly number[]): void {
    this.group = undefined;
    if (this.closed) return;
    this.shards.forEach((s, i) => {
      s.pos = positions[i]!;
      this.follow(s, false);
    });
  }

  /** failed: a feed of the broadcast cannot go on (BroadcastMember). */
  failed(): void {
    this.group = undefined;
    this.cut('error');
  }

  /**
   * join moves the stream to its broadcast once every shard is live and at its feed's position
   * (then its positions are the broadcast's: both follow the same feeds, batch by batch).
   */
  private join(): void {
    if (this.closed || this.group !== undefined) return;
    for (const s of this.shards) if (s.feed === undefined || s.feed.position !== s.pos) return;
    const group = this.deps.broadcast(
      this.shards.map((s) => s.src),
      this.o,
      this.out.format,
      this.shards.map((s) => s.pos),
    );
    if (group === undefined) return;
    for (const s of this.shards) this.unsubscribe(s);
    this.group = group;
    group.add(this);
  }

  /** leaveLive stops following the feed and catches up from the shard's own position. */
  leaveLive(s: ShardWatch): void {
    this.unsubscribe(s);
    if (!this.closed) this.follow(s, false);
  }

  /** follow runs shard `s`; a failure (a damaged record, a broken output) ends the stream with resume. */
  private follow(s: ShardWatch, snapshotFirst: boolean): void {
    this.run(s, snapshotFirst).catch(() => {
      this.cut('error');
    });
  }

  private unsubscribe(s: ShardWatch): void {
    s.feed?.unsubscribe(s);
    s.feed = undefined;
  }

  /** run catches shard `s` up (taking a snapshot when needed), then joins its feed. */
  private async run(s: ShardWatch, snapshotFirst: boolean): Promise<void> {
    let needSnapshot = snapshotFirst;
    const reader = this.deps.reader(s.src);
    while (!this.closed) {
      if (needSnapshot) {
        if (!(await this.snapshot(s))) return;
        needSnapshot = false;
      }
      let r: Awaited<ReturnType<LogReader>>;
      try {
        r = await reader(s.pos, READ_BYTES, 0);
      } catch {
        await sleep(RETRY_MS);
        continue;
      }
      if (this.isClosed) return;
      if (r.gone) {
        needSnapshot = true;
        continue;
      }
      if (r.records.length > 0) {
        this.deliver(s, decodeLog(r.records));
        if (this.out.backlog() > this.o.maxBuffer / 2) await this.out.drained();
        continue;
      }
      // Caught up with the log: join the feed when it is not ahead of us (single-threaded, so its
      // next batch starts right after its position).
      const feed = this.deps.feed(s.src, s.pos);
      if (feed.position <= s.pos) {
        s.feed = feed;
        feed.subscribe(s);
        this.join();
        return;
      }
    }
  }

  /** snapshot sends the shard's matching keys; false when the stream closed meanwhile. */
  private async snapshot(s: ShardWatch): Promise<boolean> {
    let after: Uint8Array | null = null;
    let firstSeq = -1;
    let began = false;
    for (;;) {
      let page: ScanPage;
      try {
        page = await this.deps.scan(s.src, this.prefixBytes, after, SNAPSHOT_PAGE);
      } catch {
        if (this.closed) return false;
        await sleep(RETRY_MS);
        continue;
      }
      if (this.closed) return false;
      if (!began) {
        firstSeq = page.seq;
        began = true;
        this.emit({
          type: 'snapshot-begin',
          shard: s.src.shard,
          version: this.version(s.src.shard, firstSeq),
        });
      }
      for (const e of page.entries) {
        const ev: WatchEvent = { type: 'put', shard: s.src.shard, key: Buffer.from(e.key).toString('utf8') };
        if (this.o.values) Object.assign(ev, valueFields(e.value));
        ev.snapshot = true;
        this.emit(ev);
      }
      const lastEntry = page.entries[page.entries.length - 1];
      if (page.last || lastEntry === undefined) break;
      after = lastEntry.key;
      if (this.out.backlog() > this.o.maxBuffer / 2) await this.out.drained();
    }
    // Events continue after the first page's seq: a later page may hold newer values, and the
    // events replayed after it end every key at its current state (docs/watch.md, "Resuming").
    s.pos = firstSeq;
    this.emit({
      type: 'snapshot-end',
      shard: s.src.shard,
      version: this.version(s.src.shard, firstSeq),
      cursor: this.cursor(),
    });
    return true;
  }

  /** emitBatch sends `batch` (every record new to shard `s`) as one block, encoded once for every watcher. */
  private emitBatch(s: ShardWatch, batch: readonly LogRecord[]): void {
    const shard = s.src.shard;
    const block = sharedBlock(batch, shard, this.o.prefix, this.o.values, this.out.format, (seq) =>
      this.deps.epochOf(shard, seq),
    );
    s.pos = batch[batch.length - 1]!.seq;
    if (block.length > 0) {
      const cursor = this.cursor();
      this.lastCursor = cursor;
      this.out.emitBlock(block, cursor);
    }
  }

  /** deliver passes records with seq > the shard's position, emitting those under the prefix. */
  private deliver(s: ShardWatch, batch: readonly LogRecord[]): void {
    const shard = s.src.shard;
    if (binaryVersion(this.out.format) !== undefined) {
      // Binary changes carry their versions: one block, no cursor per event.
      const fresh = batch.filter((r) => r.seq > s.pos);
      if (fresh.length > 0) this.emitBatch(s, fresh);
      return;
    }
    for (const r of batch) {
      if (r.seq <= s.pos) continue;
      s.pos = r.seq;
      if (!r.key.startsWith(this.o.prefix)) continue;
      this.send(r.kind, recordJson(r, shard, this.o.values, this.deps.epochOf(shard, r.seq)));
    }
  }

  private version(shard: number, seq: number): string {
    return formatVersion({ epoch: this.deps.epochOf(shard, seq), seq });
  }

  /** cursor is the stream's position as a `from` value (watch-cursor.ts), shards in order. */
  private cursor(): string {
    let text = '';
    for (const s of this.shards) {
      const v: Version = { epoch: this.deps.epochOf(s.src.shard, s.pos), seq: s.pos };
      text += `${text === '' ? '' : ','}${String(s.src.shard)}:${formatVersion(v)}`;
    }
    return text;
  }

  private emit(ev: WatchEvent): void {
    this.send(ev.type, JSON.stringify(ev));
  }

  private send(type: string, json: string): void {
    if (this.closed) return;
    const cursor = this.cursor();
    this.lastCursor = cursor;
    this.out.emit(type, json, cursor);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
