/**
 * One watch stream (docs/watch.md): for each watched shard, a position (the seq of the last record
 * passed) that only moves forward through the shard's log, in three modes:
 *  - catching up, or sending a snapshot when the log no longer holds its position: the shard moves
 *    its position itself (shard-watch.ts);
 *  - live: subscribed to the shard's feed (feed.ts) once its position reached the feed's.
 * Once every shard is live and at its feed's position, the stream joins the broadcast of the
 * watchers that want the same bytes (broadcast.ts): from then on it is handed one shared buffer
 * per flush and does no work per event. A broadcast that ends (a feed reset) hands every shard
 * back to the first mode.
 * A live stream cannot slow anyone: if the client does not read and more than `maxBuffer` bytes wait
 * for it, it gets `resume` with its cursor and is closed (`cut`). It resumes with from=cursor.
 */
import type { DistkvError } from '../errors.js';
import { hasPrefix } from '../util/bytes.js';
import type { Broadcast, BroadcastMember } from './broadcast.js';
import type { SharedFlush } from './gathered-writes.js';
import { cursorAround, cursorItem, type Start } from './watch-cursor.js';
import {
  batchEpochs,
  binaryVersion,
  recordJson,
  sharedBlock,
  type WatchEvent,
  type WireFormat,
} from './watch-event.js';
import type { Feed, LogReader } from './feed.js';
import { ShardWatch, type ShardStream } from './shard-watch.js';
import type { LogRecord } from './store-log.js';

/** ShardSource is one watched shard as served here: which local store. */
export interface ShardSource {
  shard: number;
  worker: number;
  store: number;
  role: 'leader' | 'replica';
  /** leaderStore is a replica's leader store when it is in this process. */
  leaderStore: number | undefined;
}

/**
 * ScanPage is one page of a snapshot; `last`: the scan reached the end (a page cut by bytes is
 * short but not last); `epoch`: the epoch of the store's newest records (forked-store.ts).
 */
export interface ScanPage {
  entries: { key: Uint8Array; value: Uint8Array }[];
  seq: number;
  last: boolean;
  epoch?: number | undefined;
}

/** ScanBounds bound a snapshot page, and say whether it carries values. */
export interface ScanBounds {
  limit: number;
  maxBytes: number;
  keysOnly: boolean;
}

/** WatchDeps is what a watcher needs from the node (watch-hub.ts provides it). */
export interface WatchDeps {
  reader(src: ShardSource): LogReader;
  /**
   * scan reads a snapshot page: at most `limit` entries, ending after the one that brings its
   * bytes to `maxBytes` (as the store counts them: keys and values); `keysOnly`: values empty.
   */
  scan(src: ShardSource, prefix: Buffer, after: Uint8Array | null, bounds: ScanBounds): Promise<ScanPage>;
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
  /** cutOff counts a stream the node ended with `resume` (for /metrics, by `reason`). */
  cutOff(reason: string): void;
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
  /** prefix is the bytes the keys of its events start with. */
  prefix: Buffer;
  values: boolean;
  maxBuffer: number;
}

/** Watcher runs one watch stream. */
export class Watcher implements BroadcastMember, ShardStream {
  readonly deps: WatchDeps;
  readonly out: WatchOutput;
  readonly options: WatchOptions;
  readonly prefixBytes: Buffer;
  private readonly shards: ShardWatch[];
  private group: Broadcast | undefined;
  private closed = false;
  private lastCursor = '';
  private lastLag = '{}';

  constructor(sources: readonly ShardSource[], deps: WatchDeps, out: WatchOutput, o: WatchOptions) {
    this.shards = [...sources].sort((a, b) => a.shard - b.shard).map((s) => new ShardWatch(s, this));
    this.deps = deps;
    this.out = out;
    this.options = o;
    this.prefixBytes = o.prefix;
  }

  /** start sends `hello` and begins every shard from its start. */
  start(starts: ReadonlyMap<number, Start>, elsewhere: Record<string, string>): void {
    const snapshotFirst: ShardWatch[] = [];
    for (const s of this.shards) {
      const start = starts.get(s.src.shard) ?? 'now';
      if (start === 'now') s.pos = this.deps.lastSeq(s.src);
      // A version whose epoch is not the one that wrote its seq, or past the log's end, names
      // history this one does not hold: it gets a snapshot (shard-watch.ts `startAt`), unless this
      // is a replica behind it in the same history, which waits for its log to get there.
      else if (s.startAt(start, this.deps.lastSeq(s.src))) snapshotFirst.push(s);
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
    for (const s of this.shards) s.unsubscribe();
    this.group?.remove(this);
    this.group = undefined;
  }

  /** isClosed reports whether the stream has stopped (a method: it changes across awaits). */
  isClosed(): boolean {
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
    if (this.forkedAny()) return;
    if (cursor === this.lastCursor && lagText === this.lastLag) return;
    this.lastLag = lagText;
    this.emit({ type: 'progress', cursor, ...(lagText === '{}' ? {} : { lag }) });
  }

  /** follows tells whether any shard this watcher reads comes from a source for which `test` holds. */
  follows(test: (src: ShardSource) => boolean): boolean {
    return this.shards.some((s) => test(s.src));
  }

  /**
   * cut ends the stream with `resume` and the cursor to resume from; `error` (`{code, message}`
   * in the event) says why when the reason alone does not (REPLICA_BEHIND names the shard).
   */
  cut(reason: string, error?: DistkvError): void {
    if (this.closed) return;
    const cursor = this.cursor();
    this.close();
    this.deps.cutOff(reason);
    const ev = { type: 'resume', reason, cursor, ...(error === undefined ? {} : { error: error.toWire() }) };
    this.out.end('resume', JSON.stringify(ev), cursor);
  }

  /** live handles a feed batch for shard `s`. */
  live(s: ShardWatch, batch: readonly LogRecord[]): void {
    if (this.closed || this.forkedAny()) return;
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
    if (this.out.backlog() > this.options.maxBuffer) this.cut('slow');
    else this.join();
  }

  /** shared takes a flush of its broadcast (BroadcastMember). */
  shared(flush: SharedFlush, positions: readonly number[], epochs: readonly number[], cursor: string): void {
    if (this.closed || this.forkedAny()) return;
    this.shards.forEach((s, i) => {
      s.passed(positions[i]!, epochs[i]!);
    });
    if (flush.data.length === 0) return;
    this.lastCursor = cursor;
    this.out.emitShared(flush);
    if (this.out.backlog() > this.options.maxBuffer) this.cut('slow');
  }

  /** dissolved: the broadcast ended; every shard catches up alone from `positions` (BroadcastMember). */
  dissolved(positions: readonly number[], epochs: readonly number[]): void {
    this.group = undefined;
    if (this.closed) return;
    this.shards.forEach((s, i) => {
      s.passed(positions[i]!, epochs[i]!);
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
  join(): void {
    if (this.closed || this.group !== undefined) return;
    for (const s of this.shards) if (s.feed === undefined || s.feed.position !== s.pos) return;
    const group = this.deps.broadcast(
      this.shards.map((s) => s.src),
      this.options,
      this.out.format,
      this.shards.map((s) => s.pos),
    );
    if (group === undefined) return;
    for (const s of this.shards) s.unsubscribe();
    this.group = group;
    group.add(this);
  }

  /** leaveLive stops following the feed and catches up from the shard's own position. */
  leaveLive(s: ShardWatch): void {
    s.unsubscribe();
    if (!this.closed) this.follow(s, false);
  }

  /** follow runs shard `s`; a failure (a damaged record, a broken output) ends the stream with resume. */
  private follow(s: ShardWatch, snapshotFirst: boolean): void {
    s.catchUp(snapshotFirst).catch(() => {
      this.cut('error');
    });
  }

  /** emitBatch sends `batch` (every record new to shard `s`) as one block, encoded once for every watcher. */
  private emitBatch(s: ShardWatch, batch: readonly LogRecord[]): void {
    const shard = s.src.shard;
    const epochOf = batchEpochs(batch, (seq) => this.deps.epochOf(shard, seq));
    // Over SSE each event's id is the cursor after it: the other shards stand where they are now.
    const around = this.out.format === 'sse' ? cursorAround(this.items(), this.shards.indexOf(s)) : undefined;
    const block = sharedBlock(
      batch,
      shard,
      this.prefixBytes,
      this.options.values,
      this.out.format,
      epochOf,
      around,
    );
    s.pos = batch[batch.length - 1]!.seq;
    if (block.length > 0) {
      const cursor = this.cursor();
      this.lastCursor = cursor;
      this.out.emitBlock(block, cursor);
    }
  }

  /** deliver passes records with seq > the shard's position, emitting those under the prefix. */
  deliver(s: ShardWatch, batch: readonly LogRecord[]): void {
    if (this.forkedAny()) return;
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
      if (!hasPrefix(r.key, this.prefixBytes)) continue;
      this.send(r.kind, recordJson(r, shard, this.options.values, this.deps.epochOf(shard, r.seq)));
    }
  }

  /**
   * forkedAny ends the stream with `resume` when a failover discarded history a shard passed
   * (its cursor keeps the epoch it passed, so the resume gets a snapshot); true when it did.
   */
  private forkedAny(): boolean {
    if (!this.shards.some((s) => s.forked())) return false;
    this.cut('failover');
    return true;
  }

  /** cursor is the stream's position as a `from` value (watch-cursor.ts), shards in order. */
  cursor(): string {
    return this.items().join(',');
  }

  /** items are the cursor's items (cursorItem), shards in order. */
  private items(): string[] {
    return this.shards.map((s) => cursorItem(s.src.shard, { epoch: s.epoch, seq: s.pos }));
  }

  /** emit sends one event and the cursor after it. */
  emit(ev: WatchEvent): void {
    this.send(ev.type, JSON.stringify(ev));
  }

  private send(type: string, json: string): void {
    if (this.closed) return;
    const cursor = this.cursor();
    this.lastCursor = cursor;
    this.out.emit(type, json, cursor);
  }
}
