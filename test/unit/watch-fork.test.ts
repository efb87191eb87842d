/**
 * A live watch stream on a replica across a failover that discarded history.
 *
 * docs/watch.md, "Resuming": "a version whose epoch is not the one that wrote its seq (history a
 * failover discarded) gets a snapshot". That is checked only when a stream starts
 * (watcher.ts `start`). A stream that is already running follows the store's log by seq alone
 * (feed.ts, shard-watch.ts): when the replica it reads forks from the new leader below the
 * stream's position and is rebuilt (a resync whose snapshot seq is at or below that position),
 * the feed's long-poll after the old position returns the new epoch's records above it, with no
 * reset and no `gone`, so the stream goes on as if nothing happened: it keeps the discarded
 * writes and never sees the new epoch's records at or below its old position. Now each shard of
 * a stream keeps the epoch of the position it passed (shard-watch.ts); when the history gives that
 * position another epoch the stream ends with `resume` and that cursor, whose resume gets a
 * snapshot, as a reconnecting client's would; both cases fail without it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeRecord, recordSize, TYPE_DELETE, TYPE_PUT } from '../../src/storage/wal-format.js';
import { Fanout } from '../../src/watch/fanout.js';
import type { LogReader } from '../../src/watch/feed.js';
import type { SharedFlush } from '../../src/watch/gathered-writes.js';
import { parseFrom, type Start, startOf } from '../../src/watch/watch-cursor.js';
import {
  type ScanPage,
  type ShardSource,
  type WatchDeps,
  type WatchOptions,
  type WatchOutput,
  Watcher,
} from '../../src/watch/watcher.js';
import type { WireFormat } from '../../src/watch/watch-event.js';

interface Rec {
  seq: number;
  key: string;
  value: string | undefined;
}

/** ForkingLog is a replica store's log that a resync can rebuild (as watch-tap.ts answers it). */
class ForkingLog {
  recs: Rec[] = [];
  /** oldest is the first seq the log holds (after a resync: the snapshot's seq + 1). */
  oldest = 1;
  /** epochStarts: [epoch, firstSeq] oldest first (the shard's history in the live map). */
  epochStarts: [number, number][] = [[0, 1]];
  private wakers: (() => void)[] = [];

  get last(): number {
    return this.recs.length === 0 ? this.oldest - 1 : this.recs[this.recs.length - 1]!.seq;
  }

  append(key: string, value: string | undefined): void {
    this.recs.push({ seq: this.last + 1, key, value });
    this.wake();
  }

  /** resync rebuilds the store from a snapshot of the new leader at `state` (its seq `at`). */
  resync(at: number, state: Rec[]): void {
    this.recs = [];
    this.oldest = at + 1;
    this.snapshot = state;
  }

  snapshot: Rec[] = [];

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

  private wake(): void {
    const w = this.wakers;
    this.wakers = [];
    for (const f of w) f();
  }

  readonly read: LogReader = async (after, maxBytes, waitMs) => {
    await Promise.resolve();
    if (this.last <= after && waitMs > 0)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, waitMs);
        this.wakers.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    const end = this.last;
    const recs = this.recs.filter((r) => r.seq > after);
    // watch-tap.ts: gone when the log no longer holds `after`, or `after` is past the store's end.
    if (after < this.oldest - 1 || (recs.length === 0 && after > end))
      return { gone: true, records: Buffer.alloc(0), lastSeq: after, end };
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
    return { gone: false, records: Buffer.concat(parts), lastSeq, end };
  };
}

class ReplicaNode implements WatchDeps {
  readonly log = new ForkingLog();
  readonly fanout = new Fanout(
    () => this.log.read,
    (_shard, seq) => this.log.epochOf(seq),
  );
  reader(): LogReader {
    return this.log.read;
  }
  scan(): Promise<ScanPage> {
    const entries = [...this.log.state()]
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([k, v]) => ({ key: Buffer.from(k), value: Buffer.from(v) }));
    return Promise.resolve({ entries, seq: this.log.last, last: true });
  }
  feed(src: ShardSource, pos: number) {
    return this.fanout.feed(src, pos);
  }
  lastSeq(): number {
    return this.log.last;
  }
  epochOf(_shard: number, seq: number): number {
    return this.log.epochOf(seq);
  }
  lag(): string | undefined {
    return undefined;
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

/** SseOutput keeps every SSE event written. */
class SseOutput implements WatchOutput {
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
function applyEvents(
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

const SRC: ShardSource = { shard: 0, worker: 0, store: 0, role: 'replica', leaderStore: undefined };

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** caughtUp opens a stream from 0.0 on a node whose log holds a1..a10 (epoch 0), once it passed them all. */
async function caughtUp(): Promise<{ node: ReplicaNode; out: SseOutput; w: Watcher }> {
  const node = new ReplicaNode();
  for (let i = 1; i <= 10; i++) node.log.append(`a${i}`, `old${i}`);
  const out = new SseOutput();
  const w = new Watcher([SRC], node, out, { prefix: Buffer.alloc(0), values: true, maxBuffer: 1 << 20 });
  w.start(new Map<number, Start>([[0, { epoch: 0, seq: 0 }]]), {});
  for (let i = 0; i < 50 && out.events().filter((e) => e.type === 'put').length < 10; i++) await sleep(10);
  assert.equal(out.events().filter((e) => e.type === 'put').length, 10, 'the stream caught up with 0.10');
  return { node, out, w };
}

describe('a live watch on a replica across a failover that discarded history', () => {
  it('ends with the store state (a snapshot) when the replica is rebuilt below its position, not with discarded writes', async () => {
    // Epoch 0: the old leader wrote a1..a10; this replica copied all ten.
    const { node, out, w } = await caughtUp();

    // Failover: the new leader (epoch 1) held only up to seq 8; a9, a10 are discarded. This replica
    // is told DIVERGED at 8 and resyncs from the new leader's snapshot at seq 8, then pulls the
    // new epoch's writes b9.. (all before the feed's long-poll, waiting after seq 10, returns).
    node.log.epochStarts.push([1, 9]);
    const snap: Rec[] = [];
    for (let i = 1; i <= 8; i++) snap.push({ seq: i, key: `a${i}`, value: `old${i}` });
    node.log.resync(8, snap);
    for (let i = 9; i <= 14; i++) node.log.append(`b${i}`, `new${i}`);
    const done = (o: SseOutput): boolean => o.events().some((e) => e.key === 'b14' || e.type === 'resume');
    for (let i = 0; i < 100 && !done(out); i++) await sleep(10);
    await sleep(50);
    w.close();
    // A stream ended with `resume` is continued as a client does: from the cursor it was given.
    const resume = out.events().find((e) => e.type === 'resume');
    let got = out.state();
    if (resume !== undefined) {
      const again = new SseOutput();
      const w2 = new Watcher([SRC], node, again, {
        prefix: Buffer.alloc(0),
        values: true,
        maxBuffer: 1 << 20,
      });
      w2.start(new Map([[0, startOf(parseFrom(String(resume.cursor)), 0)]]), {});
      for (let i = 0; i < 100 && !done(again); i++) await sleep(10);
      await sleep(50);
      w2.close();
      got = out.state(again);
    }
    const want = node.log.state();
    assert.deepEqual(
      [...got].sort(),
      [...want].sort(),
      `the stream's state is not the store's: it holds ${[...got.keys()].filter((k) => !want.has(k)).join(',') || 'nothing'} that the failover discarded and lacks ${[...want.keys()].filter((k) => !got.has(k)).join(',') || 'nothing'}`,
    );
  });
  it('keeps in its cursor the epoch of the record it passed, not the epoch a failover gave that seq since', async () => {
    const { node, out, w } = await caughtUp();
    // Failover: epoch 1 starts at seq 9 (a9, a10 are discarded); the heartbeat sends progress.
    node.log.epochStarts.push([1, 9]);
    w.progress();
    const cursor = String(out.events().at(-1)?.cursor);
    w.close();
    await sleep(600);
    // With "0:1.10" a client resuming anywhere once epoch 1 wrote seq 10 is not given the snapshot
    // that "0:0.10" (the version of a10, which it holds) gets it (watcher.ts start).
    assert.equal(cursor, '0:0.10', 'the cursor names a version the stream never passed');
  });
  it('names the discarded version it started from until its snapshot ends, so a client resuming mid-snapshot is given it again', async () => {
    // The client holds a1..a10 of epoch 0 (its last id 0:0.10); a failover discarded a9, a10 (epoch
    // 1 starts at seq 9) and this replica was rebuilt: its store is a1..a8 and the new b9..b14.
    const node = new ReplicaNode();
    for (let i = 1; i <= 10; i++) node.log.append(`a${i}`, `old${i}`);
    const held = node.log.state();
    node.log.epochStarts.push([1, 9]);
    const snap: Rec[] = [];
    for (let i = 1; i <= 8; i++) snap.push({ seq: i, key: `a${i}`, value: `old${i}` });
    node.log.resync(8, snap);
    for (let i = 9; i <= 14; i++) node.log.append(`b${i}`, `new${i}`);
    const run = async (from: string): Promise<{ id: string; event: Record<string, unknown> }[]> => {
      const out = new SseOutput();
      const w = new Watcher([SRC], node, out, { prefix: Buffer.alloc(0), values: true, maxBuffer: 1 << 20 });
      w.start(new Map([[0, startOf(parseFrom(from), 0)]]), {});
      const done = (): boolean => out.events().some((e) => e.type === 'snapshot-end' || e.key === 'b14');
      for (let i = 0; i < 40 && !done(); i++) await sleep(5);
      w.close();
      return out.dispatched();
    };
    const first = await run('0:0.10');
    assert.ok(
      first.some((f) => f.event.type === 'snapshot-end'),
      'the stream from a discarded version sends a snapshot',
    );
    // The connection is lost after each event in turn: the client resumes with the id it holds.
    for (const [k, { id, event }] of first.entries()) {
      const state = applyEvents(
        new Map(held),
        first.slice(0, k + 1).map((f) => f.event),
      );
      applyEvents(
        state,
        (await run(id)).map((f) => f.event),
      );
      assert.deepEqual(
        [...state].sort(),
        [...node.log.state()].sort(),
        `a client that lost its stream after event ${k} (${String(event.type)}) and resumed from ${id} does not hold the store's state`,
      );
    }
  });
  it('keeps the epochs its broadcast passed, not the ones a failover gave those seqs before the flush that sends them', async () => {
    // A stream caught up at a8 and joined its broadcast (one shard, all live).
    const node = new ReplicaNode();
    for (let i = 1; i <= 8; i++) node.log.append(`a${i}`, `old${i}`);
    const out = new SseOutput();
    const w = new Watcher([SRC], node, out, { prefix: Buffer.alloc(0), values: true, maxBuffer: 1 << 20 });
    w.start(new Map<number, Start>([[0, { epoch: 0, seq: 0 }]]), {});
    for (let i = 0; i < 50 && node.fanout.broadcastSizes().length === 0; i++) await sleep(5);
    assert.deepEqual(node.fanout.broadcastSizes(), [1], 'the caught-up stream joined a broadcast');
    // The old leader's a9, a10 reach the broadcast (epoch 0), which holds them for its window...
    node.log.append('a9', 'old9');
    node.log.append('a10', 'old10');
    await new Promise<void>((resolve) => setImmediate(resolve));
    // ...while a failover discards them (epoch 1 starts at 9) and the replica is rebuilt at 8 and
    // pulls the new leader's b9..b12: the stream is sent a9, a10 and must end with `resume`.
    node.log.epochStarts.push([1, 9]);
    const snap: Rec[] = [];
    for (let i = 1; i <= 8; i++) snap.push({ seq: i, key: `a${i}`, value: `old${i}` });
    node.log.resync(8, snap);
    for (let i = 9; i <= 12; i++) node.log.append(`b${i}`, `new${i}`);
    const done = (o: SseOutput): boolean => o.events().some((e) => e.key === 'b12' || e.type === 'resume');
    for (let i = 0; i < 100 && !done(out); i++) await sleep(10);
    w.progress();
    w.close();
    const resume = out.events().find((e) => e.type === 'resume');
    let got = out.state();
    if (resume !== undefined) {
      const again = new SseOutput();
      const w2 = new Watcher([SRC], node, again, {
        prefix: Buffer.alloc(0),
        values: true,
        maxBuffer: 1 << 20,
      });
      w2.start(new Map([[0, startOf(parseFrom(String(resume.cursor)), 0)]]), {});
      for (let i = 0; i < 100 && !done(again); i++) await sleep(10);
      w2.close();
      got = out.state(again);
    }
    assert.deepEqual(
      [...got].sort(),
      [...node.log.state()].sort(),
      `the stream's state is not the store's (sent: ${out
        .events()
        .map((e) => String(e.version ?? e.cursor))
        .join(' ')})`,
    );
  });
});
