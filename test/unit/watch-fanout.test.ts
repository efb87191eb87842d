/**
 * The fan-out of live watch streams (src/watch/broadcast.ts, fanout.ts, watcher.ts) checked against
 * its model, "a watch stream is the log": over an in-memory log of two shards, watchers that start
 * from now or from a past position, join and leave at random times while records are written, are
 * cut off when slow, and lose their feed to a reset, each receive exactly the log's records under
 * their prefix after their start, in log order per shard, none twice — while the live ones share
 * one broadcast per prefix, value choice and format; over SSE and over the binary stream's two
 * versions (version 2's deltas restart at every block: a member that joined at any block decodes
 * its shared flushes right).
 * Randomized and seeded (DISTKV_SEED replays).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LogReader } from '../../src/watch/feed.js';
import type { SharedFlush } from '../../src/watch/gathered-writes.js';
import { parseFrom, type Start } from '../../src/watch/watch-cursor.js';
import { jsonFrame } from '../../src/watch/watch-binary-format.js';
import { BinaryWatchReader } from '../../src/watch/watch-binary-reader.js';
import { binaryVersion, type StreamFormat } from '../../src/watch/watch-event.js';
import { type ScanPage, type ShardSource, type WatchOutput, Watcher } from '../../src/watch/watcher.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { FanoutNode, logBatch, type Rec, Wakers } from '../helpers/watch-node.js';

/** FakeLog is one shard's log in memory, read as a worker answers `watch-read`. */
class FakeLog {
  readonly recs: Rec[] = [];
  /** goneOnce makes the next long-poll answer that the log jumped (a feed reset). */
  goneOnce = false;
  private readonly wakers = new Wakers();

  get last(): number {
    return this.recs.length;
  }

  append(key: string, value: string | undefined): void {
    this.recs.push({ seq: this.recs.length + 1, key, value });
    this.wakers.wake();
  }

  readonly read: LogReader = async (after, maxBytes, waitMs) => {
    await Promise.resolve();
    if (waitMs > 0 && this.goneOnce) {
      this.goneOnce = false;
      return { gone: true, records: Buffer.alloc(0), lastSeq: after, end: this.last };
    }
    if (this.last <= after && waitMs > 0) await this.wakers.wait(waitMs);
    return { gone: false, ...logBatch(this.recs.slice(after), after, maxBytes), end: this.last };
  };
}

/** FakeNode is the node a watcher sees: the logs, and a real Fanout over them. */
class FakeNode extends FanoutNode {
  readonly logs = [new FakeLog(), new FakeLog()];
  reader(src: ShardSource): LogReader {
    return this.logs[src.shard]!.read;
  }
  scan(): Promise<ScanPage> {
    return Promise.reject(new Error('the log is never compacted here: no snapshot expected'));
  }
  lastSeq(src: ShardSource): number {
    return this.logs[src.shard]!.last;
  }
  epochOf(): number {
    return 0;
  }
}

/** StreamFormat is a format of a chunked watch response. */

/**
 * TextOutput is an SSE or binary-stream output that keeps everything written, in order; `slow`
 * fakes a full socket.
 */
class TextOutput implements WatchOutput {
  readonly format: StreamFormat;
  private readonly pieces: Buffer[] = [];
  slow = false;
  ended = false;
  constructor(format: StreamFormat) {
    this.format = format;
    const version = binaryVersion(format);
    if (version !== undefined) this.pieces.push(Buffer.from([version]));
  }
  /** text is what was written (over the binary stream: its JSON frames' and changes' count). */
  get text(): string {
    if (this.format === 'sse') return Buffer.concat(this.pieces).toString();
    return JSON.stringify(this.events());
  }
  emitBlock(block: Buffer, cursor: string): void {
    this.pieces.push(block);
    if (this.format === 'sse') this.pieces.push(Buffer.from(`id: ${cursor}\n\n`));
  }
  emitShared(flush: SharedFlush): void {
    // A flush comes framed once as one HTTP chunk, its data a view of the frame.
    assert.ok(flush.framed !== undefined, 'a flush is pre-framed');
    const size = flush.data.length.toString(16);
    assert.equal(flush.framed.toString('latin1'), `${size}\r\n${flush.data.toString('latin1')}\r\n`);
    assert.equal(flush.data.buffer, flush.framed.buffer, 'the data is a view of the frame');
    this.pieces.push(flush.data);
  }
  emit(type: string, json: string, cursor: string): void {
    const version = binaryVersion(this.format);
    this.pieces.push(
      version !== undefined
        ? jsonFrame(json, version)
        : Buffer.from(`id: ${cursor}\nevent: ${type}\ndata: ${json}\n\n`),
    );
  }
  backlog(): number {
    return this.slow ? Number.MAX_SAFE_INTEGER : 0;
  }
  drained(): Promise<void> {
    return Promise.resolve();
  }
  end(type: string, json: string, cursor: string): void {
    this.emit(type, json, cursor);
    this.ended = true;
  }
  /** events returns every event written, as its JSON object (a binary change as the same fields). */
  events(): Record<string, unknown>[] {
    if (this.format !== 'sse')
      return new BinaryWatchReader()
        .push(Buffer.concat(this.pieces))
        .map((f) =>
          f.type === 'json'
            ? (JSON.parse(f.json) as Record<string, unknown>)
            : { type: f.type, shard: f.shard, key: f.key.toString(), version: f.version },
        );
    return Buffer.concat(this.pieces)
      .toString()
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>);
  }
}

interface Stream {
  watcher: Watcher;
  out: TextOutput;
  format: StreamFormat;
  prefix: string;
  starts: number[];
}

const SOURCES: ShardSource[] = [0, 1].map((shard) => ({
  shard,
  worker: 0,
  store: shard,
  role: 'leader',
  leaderStore: undefined,
}));

function open(
  node: FakeNode,
  prefix: string,
  values: boolean,
  from: number[] | 'now',
  format: StreamFormat,
): Stream {
  const out = new TextOutput(format);
  const watcher = new Watcher(SOURCES, node, out, { prefix: Buffer.from(prefix), values, maxBuffer: 1024 });
  const starts = new Map<number, Start>();
  const at = from === 'now' ? node.logs.map((l) => l.last) : from;
  at.forEach((seq, shard) => starts.set(shard, { epoch: 0, seq }));
  watcher.start(starts, {});
  return { watcher, out, format, prefix, starts: at };
}

/** check asserts that a stream received exactly the log under its prefix after its starts, through `ends`. */
function check(node: FakeNode, s: Stream, ends: readonly number[], seed: number): void {
  const got: number[][] = [[], []];
  for (const e of s.out.events()) {
    if (e.type !== 'put' && e.type !== 'delete') continue;
    got[e.shard as number]!.push(Number(String(e.version).split('.')[1]));
  }
  node.logs.forEach((log, shard) => {
    const want = log.recs
      .filter((r) => r.seq > s.starts[shard]! && r.seq <= ends[shard]! && r.key.startsWith(s.prefix))
      .map((r) => r.seq);
    assert.deepEqual(got[shard], want, `seed ${seed}: shard ${shard}, prefix "${s.prefix}"`);
  });
}

/** delivered reports whether a stream has every record under its prefix up to the logs' ends. */
function delivered(node: FakeNode, s: Stream): boolean {
  const want = node.logs.map(
    (log, shard) => log.recs.filter((r) => r.seq > s.starts[shard]! && r.key.startsWith(s.prefix)).length,
  );
  const have = [0, 0];
  for (const e of s.out.events()) if (e.type === 'put' || e.type === 'delete') have[e.shard as number]!++;
  return have[0] === want[0] && have[1] === want[1];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('watch fan-out', () => {
  for (const format of ['sse', 'bin1', 'bin2'] as const)
    it(`gives every watcher exactly its part of the log while live watchers share broadcasts (${format})`, async () => {
      const seed = testSeed();
      const rnd = seededRandom(seed);
      const node = new FakeNode();
      const live: Stream[] = [];
      const closed: { s: Stream; ends: number[] }[] = [];
      let peak = 0;
      try {
        for (let step = 0; step < 300; step++) {
          const r = rnd();
          if (r < 0.55) {
            const shard = rnd() < 0.5 ? 0 : 1;
            const key = `${rnd() < 0.7 ? 'a/' : 'b/'}${Math.floor(rnd() * 50)}`;
            node.logs[shard]!.append(key, rnd() < 0.2 ? undefined : 'v'.repeat(Math.floor(rnd() * 40)));
          } else if (r < 0.7 || live.length === 0) {
            const prefix = rnd() < 0.8 ? 'a/' : '';
            const from = rnd() < 0.5 ? 'now' : node.logs.map((l) => Math.floor(rnd() * (l.last + 1)));
            live.push(open(node, prefix, rnd() < 0.85, from, format));
          } else if (r < 0.8) {
            // a client leaves: what it received must be exactly the log up to some point
            const s = live.splice(Math.floor(rnd() * live.length), 1)[0]!;
            s.watcher.close();
            closed.push({ s, ends: [] });
          } else if (r < 0.85) {
            // a client stops reading: it is cut off with resume, and its cursor resumes exactly
            const s = live.splice(Math.floor(rnd() * live.length), 1)[0]!;
            s.out.slow = true;
            const cutAt = s.out.text.length;
            await sleep(40);
            if (!s.out.ended) s.watcher.cut('slow');
            const tail = s.out.events().filter((e) => e.type === 'resume');
            assert.equal(tail.length, 1, `seed ${seed}: one resume (${s.out.text.slice(cutAt)})`);
            const spec = parseFrom(String(tail[0]!.cursor));
            const ends = [0, 1].map((shard) => {
              const v = spec.shards.get(shard);
              assert.ok(v !== undefined && v !== 'now');
              return v.seq;
            });
            closed.push({ s, ends });
            live.push(open(node, s.prefix, true, ends, s.format));
          } else if (r < 0.88) {
            node.logs[rnd() < 0.5 ? 0 : 1]!.goneOnce = true;
          } else await sleep(Math.floor(rnd() * 15));
          peak = Math.max(peak, ...node.fanout.broadcastSizes());
        }
        const deadline = Date.now() + 20000;
        while (Date.now() < deadline && !live.every((s) => delivered(node, s))) {
          peak = Math.max(peak, ...node.fanout.broadcastSizes());
          await sleep(20);
        }
        const ends = node.logs.map((l) => l.last);
        for (const s of live) check(node, s, ends, seed);
        for (const { s, ends: cut } of closed) {
          // A closed stream got a prefix of its part of the log: check it up to what it received.
          const seen =
            cut.length > 0
              ? cut
              : [0, 1].map((shard) =>
                  Math.max(
                    s.starts[shard]!,
                    ...s.out
                      .events()
                      .filter((e) => e.shard === shard && (e.type === 'put' || e.type === 'delete'))
                      .map((e) => Number(String(e.version).split('.')[1])),
                  ),
                );
          check(node, s, seen, seed);
        }
        assert.ok(peak >= 2, `seed ${seed}: live watchers shared a broadcast (largest had ${peak})`);
      } finally {
        for (const s of live) s.watcher.close();
      }
      assert.deepEqual(node.fanout.broadcastSizes(), [], 'the last member to leave ends its broadcast');
    });
});
