/**
 * A Broadcast serves every live watcher that wants the same bytes (docs/watch.md, "Fan-out"):
 * the same stores (so shards), prefix, value choice and wire format. It follows the feeds of its
 * stores itself, encodes each batch once (watch-event.ts), gathers the batches of a window, and
 * at the end of the window builds ONE buffer — the events (over SSE each with its own `id:`, the
 * cursor after it) and, for SSE, one `id:` line with the cursor after them, already framed as one
 * HTTP chunk (SSE and the binary stream) — that every member's output writes as it is. A member costs one plain socket write per flush and nothing per event or per batch.
 *
 * Invariants (all on the main thread):
 *  - `pos[i]` is the seq of the last record of shard i appended to `pending`. The broadcast gets
 *    every batch of its feeds, in order, in the turn it is read, so `pos` is its feeds' position.
 *  - A watcher joins only when its own positions equal `pos`: it then gets exactly what is appended
 *    after its join (a joiner gets the pending pieces from its join index on, then is a member).
 *  - Each piece decodes alone: over the binary stream's version 2 every piece (one batch's block)
 *    starts with an absolute change (watch-binary-format.ts), so a flush from any piece on reads
 *    the same to every member, whatever each was sent before.
 *  - Members are handed their new positions with each flush, so a member's cursor names exactly
 *    what its output was given; with nothing pending, `settle` hands them `pos` as it is. Each
 *    position goes with the epoch the history gave it when it was appended (`epochs`); when a
 *    failover changes that epoch, members are handed the position before anything after it, so
 *    each sees the fork (watcher.ts) rather than a new epoch's position over records of the old.
 *  - A feed reset (the log jumped) or a gap ends the broadcast after a last flush: each member
 *    then follows its shards alone again from its positions (watcher.ts), and joins a new one.
 *
 * The window: a flush costs one write per member, so the flushes of a busy broadcast are spaced
 * by MEMBER_SPACING_MS per member, at least FEED_MIN_INTERVAL_MS (its feeds then poll together,
 * once per flush) and at most MAX_GATHER_MS; the first batch after a quiet spell
 * waits only MIN_GATHER_MS (the feeds of several shards deliver in different turns). Its feeds
 * poll just before its next flush may happen (`pollAt`, feed.ts): one read of each store's log
 * per flush, arriving together, rather than several small batches waiting for the flush.
 */
import { frameChunk } from '../http/http1-exchange.js';
import { type Feed, FEED_MIN_INTERVAL_MS, type FeedSubscriber } from './feed.js';
import type { SharedFlush } from './gathered-writes.js';
import type { LogRecord } from './store-log.js';
import { cursorAround, cursorItem } from './watch-cursor.js';
import { batchEpochs, sharedBlock, type WireFormat } from './watch-event.js';

/** MIN_GATHER_MS is the least time a batch waits to be written with others. */
export const MIN_GATHER_MS = 2;
/** MEMBER_SPACING_MS spaces the flushes of a busy broadcast, per member. */
export const MEMBER_SPACING_MS = 0.25;
/** MAX_GATHER_MS bounds the spacing of flushes (the latency a busy broadcast adds). */
export const MAX_GATHER_MS = 25;

const EMPTY = Buffer.alloc(0);
const NOTHING: SharedFlush = { data: EMPTY, framed: undefined };

/** BroadcastMember is a watcher as its broadcast sees it. */
export interface BroadcastMember {
  /**
   * shared hands the member a flush: its bytes (shared by every member: never modified; empty
   * when only the positions moved), its positions after it (one per shard, in the broadcast's
   * shard order), the epoch of each as the broadcast passed it, and their cursor.
   */
  shared(flush: SharedFlush, positions: readonly number[], epochs: readonly number[], cursor: string): void;
  /** dissolved: the broadcast ended at `positions` (`epochs`); the member follows its shards alone from there. */
  dissolved(positions: readonly number[], epochs: readonly number[]): void;
  /** failed: a feed cannot go on (a damaged record); the member's stream must end. */
  failed(): void;
}

/** BroadcastSource is one shard of a broadcast: its number and how to reach its store's feed. */
export interface BroadcastSource {
  shard: number;
  /** feed returns the running feed of the shard's store (made to start after `pos` if none runs). */
  feed(pos: number): Feed;
}

/** BroadcastOptions say what a broadcast sends. */
export interface BroadcastOptions {
  sources: readonly BroadcastSource[];
  /** prefix is the bytes the keys of its events start with. */
  prefix: Buffer;
  values: boolean;
  format: WireFormat;
  epochOf(shard: number, seq: number): number;
  /** onEnd runs once when the broadcast ends (no member left, a reset, a failure). */
  onEnd(): void;
}

/** Broadcast is the shared live stream of its members. */
export class Broadcast {
  private readonly o: BroadcastOptions;
  private readonly pos: number[];
  /**
   * epochs[i] is the epoch of `pos[i]` when it was appended (the epoch its last record was
   * encoded with): a failover may give that seq another epoch before the flush, and the members
   * must keep the one they are sent, so they notice the fork (watcher.ts `forkedAny`).
   */
  private readonly epochs: number[];
  private readonly subs: { feed: Feed; sub: FeedSubscriber }[] = [];
  private readonly members = new Set<BroadcastMember>();
  private joiners: { member: BroadcastMember; from: number }[] = [];
  private pending: Buffer[] = [];
  private settled = true;
  private timer: NodeJS.Timeout | undefined;
  private lastFlush = -Infinity;
  private ended = false;

  /** `start` is where every feed of `o.sources` stands (one seq per source). */
  constructor(o: BroadcastOptions, start: readonly number[]) {
    this.o = o;
    this.pos = [...start];
    this.epochs = o.sources.map((src, i) => o.epochOf(src.shard, start[i]!));
    o.sources.forEach((src, i) => {
      const sub: FeedSubscriber = {
        records: (batch) => {
          this.append(i, batch);
        },
        reset: () => {
          this.dissolve();
        },
        failed: () => {
          this.fail();
        },
        pollAt: () => this.lastFlush + this.spacing() - MIN_GATHER_MS,
      };
      const feed = src.feed(this.pos[i]!);
      this.subs.push({ feed, sub });
      feed.subscribe(sub);
    });
  }

  /** isAt reports whether a watcher at `positions` may join (see the invariants). */
  isAt(positions: readonly number[]): boolean {
    if (this.ended || positions.length !== this.pos.length) return false;
    for (let i = 0; i < positions.length; i++) if (positions[i] !== this.pos[i]) return false;
    return true;
  }

  /** add makes `m` a member; it must be at the broadcast's position (isAt). */
  add(m: BroadcastMember): void {
    if (this.pending.length === 0) this.members.add(m);
    else this.joiners.push({ member: m, from: this.pending.length });
  }

  /** remove forgets a member (its stream ended); the last one to leave ends the broadcast. */
  remove(m: BroadcastMember): void {
    this.members.delete(m);
    if (this.joiners.length > 0) this.joiners = this.joiners.filter((j) => j.member !== m);
    if (this.members.size === 0 && this.joiners.length === 0) this.end();
  }

  /** size is the number of members (joiners included). */
  get size(): number {
    return this.members.size + this.joiners.length;
  }

  /** settle hands members the broadcast's position when nothing is pending (batches that matched nothing). */
  settle(): void {
    if (this.ended || this.settled || this.pending.length > 0) return;
    this.settled = true;
    const at = this.at();
    // (no joiners here: a joiner exists only while something is pending)
    for (const m of [...this.members]) handOver(m, NOTHING, at);
  }

  private append(i: number, batch: readonly LogRecord[]): void {
    if (this.ended) return;
    const first = batch[0];
    if (first === undefined) return;
    const after = this.pos[i]!;
    let records = batch;
    if (first.seq !== after + 1) {
      // A gap: the feed moved past us. Members catch up from the log on their own.
      if (first.seq > after + 1) {
        this.dissolve();
        return;
      }
      records = batch.filter((r) => r.seq > after);
      if (records.length === 0) return;
    }
    const src = this.o.sources[i]!;
    // A failover discarded what this shard passed (the history gives its position another epoch):
    // members are handed that position first (what is pending, or just the position when its
    // records matched nothing), so each holds the version it passed, sees the fork at its next
    // flush and ends with `resume` (watcher.ts forkedAny).
    if (this.o.epochOf(src.shard, after) !== this.epochs[i]) {
      this.flush();
      this.settle();
    }
    const epochOf = batchEpochs(records, (seq) => this.o.epochOf(src.shard, seq));
    // Over SSE each event's id is the cursor after it: the other shards stand where they are now.
    const around = this.o.format === 'sse' ? cursorAround(this.items(), i) : undefined;
    const block = sharedBlock(
      records,
      src.shard,
      this.o.prefix,
      this.o.values,
      this.o.format,
      epochOf,
      around,
    );
    this.pos[i] = records[records.length - 1]!.seq;
    this.epochs[i] = this.o.epochOf(src.shard, this.pos[i]);
    this.settled = false;
    if (block.length === 0) return;
    this.pending.push(block);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    const delay = Math.max(MIN_GATHER_MS, this.lastFlush + this.spacing() - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, delay);
  }

  /**
   * spacing is the least time between two flushes: MEMBER_SPACING_MS per member, at least a feed's
   * poll interval (FEED_MIN_INTERVAL_MS) and at most MAX_GATHER_MS. The floor lines the feeds of a
   * small broadcast up on its flushes (pollAt): under load its shards' feeds poll together, just
   * before each flush, instead of each on its own clock with a flush after each poll (4 shards:
   * up to 4 polls, 4 worker wake-ups and 4 writes per interval instead of 1 of each); an event
   * waited for its feed's next poll anyway.
   */
  private spacing(): number {
    return Math.min(MAX_GATHER_MS, Math.max(FEED_MIN_INTERVAL_MS, this.size * MEMBER_SPACING_MS));
  }

  /** flush writes what is pending to every member: one buffer for all, one per joiner. */
  private flush(): void {
    if (this.ended || this.pending.length === 0) return;
    this.lastFlush = performance.now();
    const pieces = this.pending;
    this.pending = [];
    this.settled = true;
    const at = this.at();
    const tail = this.o.format === 'sse' ? Buffer.from(`id: ${at.cursor}\n\n`) : EMPTY;
    const flush = this.shareable([...pieces, tail]);
    const joiners = this.joiners;
    this.joiners = [];
    const members = [...this.members];
    for (const j of joiners) this.members.add(j.member);
    for (const m of members) handOver(m, flush, at);
    for (const j of joiners) {
      const own =
        j.from === 0
          ? flush
          : j.from < pieces.length
            ? this.shareable([...pieces.slice(j.from), tail])
            : NOTHING;
      handOver(j.member, own, at);
    }
  }

  /**
   * shareable joins `pieces` into one flush: over HTTP (SSE, binary) one chunk frame, its data a
   * view of it (one copy).
   */
  private shareable(pieces: Buffer[]): SharedFlush {
    if (this.o.format !== 'ws') return frameChunk(pieces);
    return { data: Buffer.concat(pieces), framed: undefined };
  }

  /** at is the position as members are handed it: seqs, their epochs and the cursor (watch-cursor.ts). */
  private at(): Position {
    return { positions: [...this.pos], epochs: [...this.epochs], cursor: this.items().join(',') };
  }

  /** items are the cursor's items of the broadcast's position (cursorItem, in shard order). */
  private items(): string[] {
    return this.o.sources.map((src, i) =>
      cursorItem(src.shard, { epoch: this.epochs[i]!, seq: this.pos[i]! }),
    );
  }

  /** dissolve ends the broadcast after a last flush; each member then follows its shards alone. */
  private dissolve(): void {
    if (this.ended) return;
    this.flush();
    const { positions, epochs } = this.at();
    const members = [...this.members, ...this.joiners.map((j) => j.member)];
    this.end();
    for (const m of members) {
      try {
        m.dissolved(positions, epochs);
      } catch {
        m.failed();
      }
    }
  }

  private fail(): void {
    if (this.ended) return;
    const members = [...this.members, ...this.joiners.map((j) => j.member)];
    this.end();
    for (const m of members) m.failed();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (const { feed, sub } of this.subs) feed.unsubscribe(sub);
    this.members.clear();
    this.joiners = [];
    this.o.onEnd();
  }
}

/** Position is where a broadcast stands, as its members are handed it. */
interface Position {
  positions: readonly number[];
  epochs: readonly number[];
  cursor: string;
}

/** handOver gives one member its flush; a member that throws is ended alone. */
function handOver(m: BroadcastMember, flush: SharedFlush, at: Position): void {
  try {
    m.shared(flush, at.positions, at.epochs, at.cursor);
  } catch {
    m.failed();
  }
}
