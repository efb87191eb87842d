/**
 * ShardWatch: one watched shard of a watch stream (watcher.ts, docs/watch.md): its position (the
 * seq of the last record passed) and how it moves that position itself until it is live:
 *  - catching up: reading the shard's log after its position (paced by the client: it reads more
 *    only once what it sent has mostly drained);
 *  - snapshot: the log no longer holds its position, so it sends the shard's current matching keys
 *    between `snapshot-begin` and `snapshot-end`, then catches up after the snapshot's first seq;
 *  - waiting (a replica started behind the client's cursor, in the same history): until its log
 *    reaches the cursor, bounded (behind-replica.ts), then catching up after it.
 * Caught up with the log, it subscribes to the shard's feed (feed.ts) and hands the feed's batches
 * to its stream, which decides what is sent. Errors of a read or a scan are retried every RETRY_MS
 * while the stream is open.
 *
 * Owned by the main thread; the stream closes it by unsubscribing it and letting its loop see
 * `isClosed`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { formatVersion, type Version } from '../routing/version.js';
import { awaitLog, BEHIND_WAIT_MS, behindError } from './behind-replica.js';
import type { Feed, FeedSubscriber, LogReader } from './feed.js';
import { aheadOfFork, unforkedReader } from './forked-store.js';
import { decodeLog, type LogRecord } from './store-log.js';
import { cursorItem } from './watch-cursor.js';
import { keyFields, valueFields, type WatchEvent } from './watch-event.js';
import type { ScanPage, ShardSource, WatchDeps, WatchOptions, WatchOutput } from './watcher.js';
import type { DistkvError } from '../errors.js';
import { SCAN_PAGE_BYTES } from '../storage/store.js';

/**
 * READ_BYTES is how much a catching-up shard reads per call. A snapshot page holds SNAPSHOT_PAGE
 * keys, and ends sooner after the entry that brings its keys and values to SCAN_PAGE_BYTES: at
 * most 4 MiB + one value (≤ server.max_value_bytes) is built on the worker and copied to this
 * thread per page, where 1000 values of 1 MiB made 1 GiB.
 */
const READ_BYTES = 256 * 1024;
const SNAPSHOT_PAGE = 1000;
const RETRY_MS = 200;

/** ShardStream is the watch stream a ShardWatch belongs to (Watcher implements it). */
export interface ShardStream {
  readonly deps: WatchDeps;
  readonly out: WatchOutput;
  readonly options: WatchOptions;
  /** prefixBytes is `options.prefix`. */
  readonly prefixBytes: Buffer;
  /** isClosed reports whether the stream has stopped. */
  isClosed(): boolean;
  /** live handles a feed batch for shard `s`. */
  live(s: ShardWatch, batch: readonly LogRecord[]): void;
  /** leaveLive stops following the feed and catches up from the shard's own position. */
  leaveLive(s: ShardWatch): void;
  /** cut ends the stream with `resume` and the cursor to resume from (and `error`, saying why, if given). */
  cut(reason: string, error?: DistkvError): void;
  /** deliver passes records with seq > the shard's position, emitting those under the prefix. */
  deliver(s: ShardWatch, batch: readonly LogRecord[]): void;
  /** emit sends one event and the cursor after it. */
  emit(ev: WatchEvent): void;
  /** cursor is the stream's position as a `from` value. */
  cursor(): string;
  /** join moves the stream to its broadcast once every shard is live and at its feed's position. */
  join(): void;
}

/** ShardWatch is one shard of a watch stream: its position, its feed once live, and its catching up. */
export class ShardWatch implements FeedSubscriber {
  /**
   * epoch is the epoch the shard's history gave `pos` when the stream passed it: the cursor names
   * it, and a history that gives `pos` another epoch since (a failover discarded it) ends the
   * stream with that cursor, so the client's resume gets a snapshot (watcher.ts `start`).
   */
  epoch = 0;
  private at = 0;
  /**
   * discarded: the stream started from a version of this shard that a failover discarded (its
   * epoch is not the one the history gives its seq now). Until the snapshot that replaces it
   * ends, `epoch` stays the client's, so every cursor sent before then (hello's, the snapshot's
   * SSE ids, progress) resumes into the snapshot again, and `forked` does not end the stream
   * over it. Read and cleared only on the main thread, by this stream.
   */
  private discarded = false;
  /**
   * awaited: the seq a replica's log must reach before this shard goes on (it started behind the
   * client's cursor, in the same history: `startAt`), undefined once it did or when there is none.
   * Set at the start, cleared by the shard's first catch-up; main thread only.
   */
  private awaited: number | undefined;
  feed: Feed | undefined;
  readonly src: ShardSource;
  private readonly stream: ShardStream;

  constructor(src: ShardSource, stream: ShardStream) {
    this.src = src;
    this.stream = stream;
  }

  /** pos is the seq of the last record passed; setting it notes the epoch the history gives it now. */
  get pos(): number {
    return this.at;
  }

  set pos(seq: number) {
    this.at = seq;
    this.epoch = this.stream.deps.epochOf(this.src.shard, seq);
  }

  /** passed moves the position to `seq`, passed in `epoch` (a broadcast's: the epoch it was sent with). */
  passed(seq: number, epoch: number): void {
    this.at = seq;
    this.epoch = epoch;
  }

  /**
   * startAt places the shard after version `v` (a client's `from`), the store's log ending at
   * `end`; true when the shard must begin with a snapshot:
   *  - `v.seq` is past `end` on a replica, in the epoch the history gives it: the replica is behind
   *    (the client passed `v` at its leader), so no snapshot: the shard waits for its log to reach
   *    `v.seq`, bounded, and goes on after it (behind-replica.ts, `catchUp`), its cursor `v`;
   *  - the history gives `v.seq` an older epoch than `v`'s, or `v.seq` is past `end` (on a
   *    leader): the client names a position this history never passed (a hand-made cursor, one
   *    kept from before a restore, or from a node whose map is ahead). A later history may pass it (the log grows
   *    past `v.seq`, a failover starts `v`'s epoch below it), and a resume from it would then go
   *    on after it, skipping what lies between the snapshot and it: so until the snapshot ends
   *    the shard's cursor is `0.0` (unstarted), whose resume replays the whole log or takes the
   *    snapshot again;
   *  - the history gives `v.seq` a newer epoch than `v`'s (a failover discarded it): that never
   *    changes back, so the cursor keeps `v` until the snapshot ends (`discarded`).
   */
  startAt(v: Version, end: number): boolean {
    this.pos = v.seq;
    if (v.seq === 0) return false;
    if (v.seq > end && v.epoch === this.epoch && this.src.role === 'replica') {
      this.awaited = v.seq;
      return false;
    }
    if (v.seq > end || v.epoch > this.epoch) {
      this.passed(0, 0);
      return true;
    }
    this.discarded = this.epoch !== v.epoch;
    if (this.discarded) this.epoch = v.epoch;
    return this.discarded;
  }

  /** forked tells whether the shard's history no longer gives `pos` the epoch it had when passed. */
  forked(): boolean {
    return !this.discarded && this.at > 0 && this.stream.deps.epochOf(this.src.shard, this.at) !== this.epoch;
  }

  /** records hands a feed batch to the stream (FeedSubscriber). */
  records(batch: readonly LogRecord[]): void {
    this.stream.live(this, batch);
  }

  /** reset: the feed moved on without this shard; it catches up alone (FeedSubscriber). */
  reset(): void {
    this.stream.leaveLive(this);
  }

  /** failed: the feed cannot go on, so neither can the stream (FeedSubscriber). */
  failed(): void {
    this.stream.cut('error');
  }

  /** unsubscribe leaves the shard's feed, if it follows one. */
  unsubscribe(): void {
    this.feed?.unsubscribe(this);
    this.feed = undefined;
  }

  /** catchUp reads the log after the position (taking a snapshot first or when needed), then joins the feed. */
  async catchUp(snapshotFirst: boolean): Promise<void> {
    const stream = this.stream;
    let needSnapshot = snapshotFirst;
    const reader = unforkedReader(stream.deps.reader(this.src), this.src.shard, (shard, seq) =>
      stream.deps.epochOf(shard, seq),
    );
    if (this.awaited !== undefined && !(await this.reachStart(reader))) return;
    while (!stream.isClosed()) {
      if (needSnapshot) {
        if (!(await this.snapshot())) return;
        needSnapshot = false;
      }
      let r: Awaited<ReturnType<LogReader>>;
      try {
        r = await reader(this.pos, READ_BYTES, 0);
      } catch {
        await sleep(RETRY_MS);
        continue;
      }
      if (stream.isClosed()) return;
      if (r.gone) {
        needSnapshot = true;
        continue;
      }
      if (r.records.length > 0) {
        stream.deliver(this, decodeLog(r.records));
        if (stream.out.backlog() > stream.options.maxBuffer / 2) await stream.out.drained();
        continue;
      }
      // Caught up with the log: join the feed when it is not ahead of us (single-threaded, so its
      // next batch starts right after its position).
      const feed = stream.deps.feed(this.src, this.pos);
      if (feed.position <= this.pos) {
        this.feed = feed;
        feed.subscribe(this);
        stream.join();
        return;
      }
      // The feed stands past the store's end (the store was cut back or rebuilt under it, and the
      // feed has not read it since): it resets at its next read. Reading again at once found
      // nothing each time, a `watch-read` after another until then (a spin on the thread).
      await sleep(RETRY_MS);
    }
  }

  /**
   * reachStart waits for a replica that started behind the client's cursor to hold it
   * (behind-replica.ts); false when the stream ended meanwhile, or is ended now because the
   * replica did not get there within BEHIND_WAIT_MS (`resume`, REPLICA_BEHIND).
   */
  private async reachStart(read: LogReader): Promise<boolean> {
    const stream = this.stream;
    const shard = this.src.shard;
    const seq = this.awaited!;
    const r = await awaitLog({ read, isClosed: () => stream.isClosed() }, seq, BEHIND_WAIT_MS);
    this.awaited = undefined;
    if (stream.isClosed()) return false;
    if (r.reached) return true;
    const end = r.end >= 0 ? r.end : stream.deps.lastSeq(this.src);
    const held = { epoch: stream.deps.epochOf(shard, end), seq: end };
    const item = cursorItem(shard, { epoch: this.epoch, seq: this.pos });
    stream.cut('replica-behind', behindError(shard, held, item, BEHIND_WAIT_MS));
    return false;
  }

  /** snapshot sends the shard's matching keys; false when the stream closed meanwhile. */
  private async snapshot(): Promise<boolean> {
    const stream = this.stream;
    const shard = this.src.shard;
    let after: Uint8Array | null = null;
    let firstSeq = -1;
    let began = false;
    for (;;) {
      let page: ScanPage;
      try {
        page = await stream.deps.scan(this.src, stream.prefixBytes, after, {
          limit: SNAPSHOT_PAGE,
          maxBytes: SCAN_PAGE_BYTES,
          keysOnly: !stream.options.values,
        });
      } catch {
        if (stream.isClosed()) return false;
        await sleep(RETRY_MS);
        continue;
      }
      if (stream.isClosed()) return false;
      if (aheadOfFork(page.epoch, page.seq, (seq) => stream.deps.epochOf(shard, seq))) {
        // The store holds history a failover discarded (forked-store.ts): once it is rebuilt, the
        // snapshot starts again (a new snapshot-begin: the client forgets what this one sent).
        after = null;
        began = false;
        await sleep(RETRY_MS);
        continue;
      }
      if (!began) {
        firstSeq = page.seq;
        began = true;
        // A position past the snapshot's (the store was rebuilt or cut back under it) is no
        // place to resume a half-sent snapshot from: the log may pass it again by then (startAt).
        if (!this.discarded && this.at > firstSeq) this.passed(0, 0);
        stream.emit({ type: 'snapshot-begin', shard, version: this.version(firstSeq) });
      }
      for (const e of page.entries) {
        const ev: WatchEvent = { type: 'put', shard, ...keyFields(e.key) };
        if (stream.options.values) Object.assign(ev, valueFields(e.value));
        ev.snapshot = true;
        stream.emit(ev);
      }
      const lastEntry = page.entries[page.entries.length - 1];
      if (page.last || lastEntry === undefined) break;
      after = lastEntry.key;
      if (stream.out.backlog() > stream.options.maxBuffer / 2) await stream.out.drained();
    }
    // Events continue after the first page's seq: a later page may hold newer values, and the
    // events replayed after it end every key at its current state (docs/watch.md, "Resuming").
    this.pos = firstSeq;
    this.discarded = false;
    stream.emit({
      type: 'snapshot-end',
      shard,
      version: this.version(firstSeq),
      cursor: stream.cursor(),
    });
    return true;
  }

  /** version is the version `E.S` of this shard's `seq`. */
  private version(seq: number): string {
    return formatVersion({ epoch: this.stream.deps.epochOf(this.src.shard, seq), seq });
  }
}
