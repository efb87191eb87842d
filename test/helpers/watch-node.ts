/**
 * One shard's watch node in memory, for the watch unit tests: a replica store's log that a resync
 * can rebuild (answered as src/watch/watch-tap.ts answers `watch-read`), the node's deps over it
 * with a real Fanout, and an SSE output that keeps every event written.
 */
import { encodeRecord, recordSize, TYPE_DELETE, TYPE_PUT } from '../../src/storage/wal-format.js';
import { Fanout } from '../../src/watch/fanout.js';
import type { LogReader } from '../../src/watch/feed.js';
import type { SharedFlush } from '../../src/watch/gathered-writes.js';
import type {
  ScanBounds,
  ScanPage,
  ShardSource,
  WatchDeps,
  WatchOptions,
  WatchOutput,
} from '../../src/watch/watcher.js';
import type { WireFormat } from '../../src/watch/watch-event.js';

export interface Rec {
  seq: number;
  key: string;
  value: string | undefined;
}

/** ForkingLog is a replica store's log that a resync can rebuild (as watch-tap.ts answers it). */
export class ForkingLog {
  recs: Rec[] = [];
  /** oldest is the first seq the log holds (after a resync: the snapshot's seq + 1). */
  oldest = 1;
  /** epochStarts: [epoch, firstSeq] oldest first (the shard's history in the live map). */
  epochStarts: [number, number][] = [[0, 1]];
  /**
   * storeEpoch is the epoch of the store's newest records (its log's epoch, as a `watch-read`
   * answers it): the map may name a newer epoch starting below them before the replica forks.
   */
  storeEpoch = 0;
  private readonly wakers = new Wakers();

  get last(): number {
    return this.recs.length === 0 ? this.oldest - 1 : this.recs[this.recs.length - 1]!.seq;
  }

  append(key: string, value: string | undefined): void {
    this.recs.push({ seq: this.last + 1, key, value });
    this.wakers.wake();
  }

  /** resync rebuilds the store from a snapshot of the new leader at `state` (its seq `at`), in the map's newest epoch. */
  resync(at: number, state: Rec[]): void {
    this.storeEpoch = this.epochStarts[this.epochStarts.length - 1]![0];
    this.recs = [];
    this.oldest = at + 1;
    this.snapshot = state;
  }

  snapshot: Rec[] = [];

  /** trim drops the log's records up to `upTo` (retention): the store keeps their effect, a read after them is `gone`. */
  trim(upTo: number): void {
    if (upTo < this.oldest) return;
    this.snapshot = [...this.snapshot, ...this.recs.filter((r) => r.seq <= upTo)];
    this.recs = this.recs.filter((r) => r.seq > upTo);
    this.oldest = upTo + 1;
  }

  /** stateAt is the store's keys as they were at `seq` (at least the log's oldest - 1). */
  stateAt(seq: number): Rec[] {
    // Below the oldest record the snapshot already holds later records' effect.
    if (seq < this.oldest - 1)
      throw new Error(`stateAt(${seq}): the log holds records from ${this.oldest} only`);
    const m = new Map<string, string>();
    for (const r of [...this.snapshot, ...this.recs.filter((x) => x.seq <= seq)])
      if (r.value === undefined) m.delete(r.key);
      else m.set(r.key, r.value);
    return [...m].map(([key, value]) => ({ seq: 0, key, value }));
  }

  /** state is the store's keys now. */
  state(): Map<string, string> {
    const m = new Map<string, string>();
    for (const r of [...this.snapshot, ...this.recs])
      if (r.value === undefined) m.delete(r.key);
      else m.set(r.key, r.value);
    return m;
  }

  epochOf(seq: number): number {
    let e = 0;
    for (const [epoch, first] of this.epochStarts) if (first <= seq) e = epoch;
    return e;
  }

  readonly read: LogReader = async (after, maxBytes, waitMs) => {
    await Promise.resolve();
    if (this.last <= after && waitMs > 0) await this.wakers.wait(waitMs);
    const end = this.last;
    const recs = this.recs.filter((r) => r.seq > after);
    // watch-tap.ts: gone when the log no longer holds `after`, or `after` is past the store's end.
    const epoch = this.storeEpoch;
    if (after < this.oldest - 1 || (recs.length === 0 && after > end))
      return { gone: true, records: Buffer.alloc(0), lastSeq: after, end, epoch };
    return { gone: false, ...logBatch(recs, after, maxBytes), end, epoch };
  };
}

/** Wakers are the long-polls waiting for a log's next record (as waitForLog, store-log.ts). */
export class Wakers {
  private waiting: (() => void)[] = [];

  /** wait resolves at the next wake, or after `ms`. */
  wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.waiting.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** wake resolves every wait. */
  wake(): void {
    const w = this.waiting;
    this.waiting = [];
    for (const f of w) f();
  }
}

/**
 * logBatch encodes `recs` (in seq order, after `after`) as a `watch-read` answers them: log
 * records up to the one that brings them to `maxBytes`; lastSeq is the last one's (`after` if none).
 */
export function logBatch(
  recs: readonly Rec[],
  after: number,
  maxBytes: number,
): { records: Buffer; lastSeq: number } {
  const parts: Buffer[] = [];
  let bytes = 0;
  let lastSeq = after;
  for (const r of recs) {
    const key = Buffer.from(r.key);
    const value = r.value === undefined ? undefined : Buffer.from(r.value);
    const type = value === undefined ? TYPE_DELETE : TYPE_PUT;
    const b = Buffer.alloc(recordSize(key.length, value?.length ?? 0, type));
    encodeRecord(b, 0, type, r.seq, key, value);
    parts.push(b);
    bytes += b.length;
    lastSeq = r.seq;
    if (bytes >= maxBytes) break;
  }
  return { records: Buffer.concat(parts), lastSeq };
}

/**
 * FanoutNode is the node a watcher sees, over in-memory logs: its reader, epochs and snapshot
 * are the subclass's; the feeds and broadcasts are a real Fanout over them.
 */
export abstract class FanoutNode implements WatchDeps {
  readonly fanout = new Fanout(
    (src) => this.reader(src),
    (shard, seq) => this.epochOf(shard, seq),
  );
  abstract reader(src: ShardSource): LogReader;
  abstract scan(src: ShardSource, prefix: Buffer): Promise<ScanPage>;
  abstract lastSeq(src: ShardSource): number;
  abstract epochOf(shard: number, seq: number): number;
  feed(src: ShardSource, pos: number) {
    return this.fanout.feed(src, pos);
  }
  lag(): string | undefined {
    return undefined;
  }
  /** cuts counts the streams ended with `resume`, by reason, as the hub does. */
  readonly cuts = new Map<string, number>();
  cutOff(reason: string): void {
    this.cuts.set(reason, (this.cuts.get(reason) ?? 0) + 1);
  }
  broadcast(
    sources: readonly ShardSource[],
    o: WatchOptions,
    format: WireFormat,
    positions: readonly number[],
  ) {
    return this.fanout.broadcast(sources, o, format, positions);
  }
}

/** ReplicaNode is one replica shard's node over a ForkingLog. */
export class ReplicaNode extends FanoutNode {
  readonly log = new ForkingLog();
  reader(): LogReader {
    return this.log.read;
  }
  scan(_src: ShardSource, prefix: Buffer): Promise<ScanPage> {
    const entries = [...this.log.state()]
      .filter(([k]) => Buffer.from(k).subarray(0, prefix.length).equals(prefix))
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([k, v]) => ({ key: Buffer.from(k), value: Buffer.from(v) }));
    return Promise.resolve({ entries, seq: this.log.last, last: true, epoch: this.log.storeEpoch });
  }
  lastSeq(): number {
    return this.log.last;
  }
  epochOf(_shard: number, seq: number): number {
    return this.log.epochOf(seq);
  }
}

/** SseFrame is one SSE frame as an EventSource reads it: its event (if any) and the last id after it. */
export interface SseFrame {
  event: Record<string, unknown> | undefined;
  id: string;
  /** ownId is the frame's own id line, if it has one. */
  ownId: string | undefined;
}

/** sseFrames cuts SSE text into frames, each with the last id an EventSource holds after it (`id0` before any). */
export function sseFrames(text: string, id0: string): SseFrame[] {
  const out: SseFrame[] = [];
  let id = id0;
  for (const f of text.split('\n\n')) {
    if (f === '') continue;
    let data: string | undefined;
    let ownId: string | undefined;
    for (const line of f.split('\n')) {
      if (line.startsWith('id: ')) id = ownId = line.slice(4);
      else if (line.startsWith('data: ')) data = line.slice(6);
    }
    out.push({
      event: data === undefined ? undefined : (JSON.parse(data) as Record<string, unknown>),
      id,
      ownId,
    });
  }
  return out;
}

/**
 * PagedNode is a ReplicaNode that answers a snapshot in pages of `pageKeys` keys (or the bound's
 * limit, when lower), each read from the store as it is then: a snapshot that writes overtake.
 */
export class PagedNode extends ReplicaNode {
  private readonly pageKeys: number;
  constructor(pageKeys: number) {
    super();
    this.pageKeys = pageKeys;
  }
  override scan(
    _src: ShardSource,
    prefix: Buffer,
    after: Uint8Array | null = null,
    bounds?: ScanBounds,
  ): Promise<ScanPage> {
    const from = after === null ? undefined : Buffer.from(after).toString();
    const all = [...this.log.state()]
      .filter(([k]) => k.startsWith(prefix.toString()) && (from === undefined || k > from))
      .sort((a, b) => (a[0] < b[0] ? -1 : 1));
    const page = all.slice(0, Math.min(this.pageKeys, bounds?.limit ?? this.pageKeys));
    return Promise.resolve({
      entries: page.map(([k, v]) => ({ key: Buffer.from(k), value: Buffer.from(v) })),
      seq: this.log.last,
      last: page.length === all.length,
      epoch: this.log.storeEpoch,
    });
  }
}

/** ShardsNode is a node of leader shards 0..n-1 over ForkingLogs that are never trimmed (no snapshot). */
export class ShardsNode extends FanoutNode {
  readonly logs: ForkingLog[];
  readonly sources: ShardSource[];
  constructor(n: number) {
    super();
    this.logs = Array.from({ length: n }, () => new ForkingLog());
    this.sources = this.logs.map((_, shard) => ({
      shard,
      worker: 0,
      store: shard,
      role: 'leader',
      leaderStore: undefined,
    }));
  }
  reader(src: ShardSource): LogReader {
    return this.logs[src.shard]!.read;
  }
  scan(): Promise<ScanPage> {
    return Promise.reject(new Error('the logs are never trimmed here: no snapshot expected'));
  }
  lastSeq(src: ShardSource): number {
    return this.logs[src.shard]!.last;
  }
  epochOf(shard: number, seq: number): number {
    return this.logs[shard]!.epochOf(seq);
  }
}

/** SseOutput keeps every SSE event written. */
export class SseOutput implements WatchOutput {
  readonly format = 'sse' as const;
  private readonly pieces: Buffer[] = [];
  emitBlock(block: Buffer, cursor: string): void {
    this.pieces.push(block, Buffer.from(`id: ${cursor}\n\n`));
  }
  emitShared(flush: SharedFlush): void {
    this.pieces.push(flush.data);
  }
  emit(type: string, json: string, cursor: string): void {
    this.pieces.push(Buffer.from(`id: ${cursor}\nevent: ${type}\ndata: ${json}\n\n`));
  }
  backlog(): number {
    return 0;
  }
  drained(): Promise<void> {
    return Promise.resolve();
  }
  end(type: string, json: string, cursor: string): void {
    this.emit(type, json, cursor);
  }
  /** text is everything written, as the client receives it. */
  text(): string {
    return Buffer.concat(this.pieces).toString();
  }
  events(): Record<string, unknown>[] {
    return Buffer.concat(this.pieces)
      .toString()
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>);
  }
  /**
   * dispatched lists the events as an EventSource dispatches them, each with the last event id it
   * then holds (an id-only block sets it without an event: the SSE spec).
   */
  dispatched(): { id: string; event: Record<string, unknown> }[] {
    const out: { id: string; event: Record<string, unknown> }[] = [];
    let id = '';
    for (const frame of Buffer.concat(this.pieces).toString().split('\n\n')) {
      let data: string | undefined;
      for (const line of frame.split('\n')) {
        if (line.startsWith('id: ')) id = line.slice(4);
        else if (line.startsWith('data: ')) data = line.slice(6);
      }
      if (data !== undefined) out.push({ id, event: JSON.parse(data) as Record<string, unknown> });
    }
    return out;
  }
  /** state applies the events as a client does (a snapshot replaces the state). */
  state(next?: SseOutput): Map<string, string> {
    return applyEvents(new Map(), [...this.events(), ...(next?.events() ?? [])]);
  }
}

/** applyEvents applies events to a one-shard client's map (a snapshot replaces it) and returns it. */
export function applyEvents(
  m: Map<string, string>,
  events: readonly Record<string, unknown>[],
): Map<string, string> {
  for (const e of events) {
    if (e.type === 'snapshot-begin') m.clear();
    else if (e.type === 'put') m.set(String(e.key), String(e.value));
    else if (e.type === 'delete' || e.type === 'expire') m.delete(String(e.key));
  }
  return m;
}

export const SRC: ShardSource = { shard: 0, worker: 0, store: 0, role: 'replica', leaderStore: undefined };

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
