/**
 * What the feeds' polls cost the main thread and the shard worker, apart from the writes and the
 * fan-out (docs/performance.md, session 39's "Watch" section): one real worker thread holding
 * `--stores` stores, a steady stream of PUTs spread over them (`--rate` a second, 100-byte
 * values), and one feed per store whose subscriber lets it poll every `--interval` ms, all at once
 * (as a busy broadcast's `pollAt` lines its feeds up before each flush, src/watch/broadcast.ts).
 * Two ways to poll alternate round by round:
 *   each   one `watch-read` per store (a round trip each: how feeds polled before session 39)
 *   polls  the reads of one turn as one `watch-polls` per worker (src/watch/log-polls.ts)
 * For each it reports, from /proc, the main thread's and the other threads' (the worker's, mostly)
 * CPU per poll round and per record, and how many messages the polls took. The writes are the
 * same in both, so the difference is what the polls cost. Medians over `--rounds`.
 *
 *   node dist/bench/watch-poll-cost.js [--stores 4] [--rate 8000] [--interval 25] [--seconds 4 (0: only the
 *        closed rounds)] [--rounds 5] [--warmup 1] [--closed 2000 (0: none)]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { DistkvError } from '../src/errors.js';
import { WorkerPool } from '../src/server/worker-pool.js';
import { Feed, type FeedSubscriber, type LogReader } from '../src/watch/feed.js';
import { LogPolls } from '../src/watch/log-polls.js';
import type { StoreSpec } from '../src/worker/messages.js';
import { OP_PUT } from '../src/worker/op-format.js';
import { count } from './lib/args.js';
import { median } from './lib/compare-stats.js';
import { threadCpuTimes, threadTimes } from './lib/thread-stats.js';

const STORES = count('stores', 4);
const RATE = count('rate', 8000);
const INTERVAL_MS = count('interval', 25);
const SECONDS = count('seconds', 4);
const ROUNDS = count('rounds', 5);
const WARMUP_S = count('warmup', 1, 0);
// poll rounds back to back (no writes, no waits) per closed round; 0 skips them
const CLOSED = count('closed', 2000, 0);
const ENTRY = new URL('../workers/shard-worker.js', import.meta.url);
const VALUE = Buffer.alloc(100, 0x76);

function spec(dir: string, index: number): StoreSpec {
  return {
    index,
    shard: { idx: index, name: `shard-${String(index)}`, first: 0, last: 16383 },
    role: 'leader',
    node: '127.0.0.1:1',
    dir: join(dir, 'node', `shard-${String(index)}`),
    engine: 'lsm',
    durability: 'none',
    fsyncIntervalMs: 100,
    lsm: {
      memtableBytes: 64 << 20,
      maxRuns: 4,
      walSegmentBytes: 64 << 20,
      walRetentionBytes: 256 << 20,
      ringBytes: 1 << 20,
    },
    repair: false,
  };
}

/** eachReader is a store's reader as one `watch-read` per poll (the hub's reader for a catching-up watcher). */
function eachReader(pool: WorkerPool, store: number): LogReader {
  return async (after, maxBytes, waitMs) => {
    const r = await pool.call(0, { type: 'watch-read', store, after, maxBytes, waitMs });
    if (r.type !== 'watch-read-result') throw new DistkvError('INTERNAL', r.type);
    const records = r.buffer === null ? Buffer.alloc(0) : Buffer.from(r.buffer, 0, r.length);
    return { gone: r.gone, records, lastSeq: r.lastSeq, end: r.end, epoch: r.epoch };
  };
}

interface Round {
  mode: string;
  polls: number;
  messages: number;
  records: number;
  mainUs: number;
  otherUs: number;
}

/** cpu is the main thread's and every other thread's CPU seconds so far. */
function cpu(): { main: number; other: number } {
  const main = threadCpuTimes(process.pid, process.pid);
  let all = 0;
  for (const s of threadTimes(process.pid).values()) all += s;
  return { main: main.user + main.system, other: all - main.user - main.system };
}

async function round(pool: WorkerPool, mode: 'each' | 'polls', seconds: number): Promise<Round> {
  let messages = 0;
  let polls = 0;
  let records = 0;
  const counted = new LogPolls(async (worker, reads, waitMs) => {
    messages++;
    const r = await pool.call(worker, { type: 'watch-polls', reads, waitMs });
    if (r.type !== 'watch-polls-result') throw new DistkvError('INTERNAL', r.type);
    return r.answers;
  });
  // One flusher, as a busy broadcast: it writes at most every --interval ms once a batch came, and
  // its feeds may poll 2 ms before it can write again (broadcast.ts pollAt), all at once.
  let lastFlush = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const arrived = (): void => {
    timer ??= setTimeout(
      () => {
        timer = undefined;
        lastFlush = performance.now();
      },
      Math.max(2, lastFlush + INTERVAL_MS - performance.now()),
    );
  };
  const pollAt = (): number => lastFlush + INTERVAL_MS - 2;
  const feeds: { feed: Feed; sub: FeedSubscriber; stopped: Promise<void> }[] = [];
  for (let s = 0; s < STORES; s++) {
    const base = mode === 'each' ? eachReader(pool, s) : counted.reader(0, s);
    const read: LogReader = (after, maxBytes, waitMs) => {
      polls++;
      if (mode === 'each') messages++;
      return base(after, maxBytes, waitMs);
    };
    let idle: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => (idle = resolve));
    const feed = new Feed(read, pool.lastSeq(s), () => {
      idle();
    });
    const sub: FeedSubscriber = {
      records: (batch) => {
        records += batch.length;
        arrived();
      },
      reset: () => undefined,
      failed: () => undefined,
      pollAt,
    };
    feed.subscribe(sub);
    feeds.push({ feed, sub, stopped });
  }
  const before = cpu();
  const start = performance.now();
  let sent = 0;
  let n = 0;
  while (performance.now() - start < seconds * 1000) {
    const due = Math.floor(((performance.now() - start) / 1000) * RATE);
    for (; sent < due; sent++, n++)
      pool.submit(0, OP_PUT, n % STORES, `key${String(n)}`, VALUE, { onReply: () => undefined });
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const after = cpu();
  const result = {
    mode,
    polls,
    messages,
    records,
    mainUs: (after.main - before.main) * 1e6,
    otherUs: (after.other - before.other) * 1e6,
  };
  for (const f of feeds) f.feed.unsubscribe(f.sub);
  await Promise.all(feeds.map((f) => f.stopped));
  clearTimeout(timer);
  return result;
}

/**
 * closedRounds is `n` poll rounds back to back, each reading the last 10 records of every store
 * with no wait: the messages alone, no writes and no timers. CPU µs per round, main and other.
 */
async function closedRounds(pool: WorkerPool, mode: 'each' | 'polls', n: number): Promise<Round> {
  let messages = 0;
  const counted = new LogPolls(async (worker, reads, waitMs) => {
    messages++;
    const r = await pool.call(worker, { type: 'watch-polls', reads, waitMs });
    if (r.type !== 'watch-polls-result') throw new DistkvError('INTERNAL', r.type);
    return r.answers;
  });
  const readers = Array.from({ length: STORES }, (_, s) =>
    mode === 'each' ? eachReader(pool, s) : counted.reader(0, s),
  );
  let records = 0;
  const before = cpu();
  for (let i = 0; i < n; i++) {
    const rs = await Promise.all(
      readers.map((read, s) => read(Math.max(0, pool.lastSeq(s) - 10), 1 << 20, 0)),
    );
    for (const r of rs) records += r.records.length > 0 ? 10 : 0;
  }
  const after = cpu();
  return {
    mode,
    polls: n * STORES,
    messages: mode === 'each' ? n * STORES : messages,
    records,
    mainUs: (after.main - before.main) * 1e6,
    otherUs: (after.other - before.other) * 1e6,
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'distkv-poll-cost-'));
  const pool = new WorkerPool(
    [Array.from({ length: STORES }, (_, i) => spec(dir, i))],
    ENTRY,
    pino({ level: 'silent' }),
    'silent',
  );
  console.log(
    `node ${process.version}, ${String(availableParallelism())} CPUs, load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(
        ' ',
      )}; ${String(STORES)} stores on one worker, ${String(RATE)} PUT/s, feeds polled every ${String(INTERVAL_MS)} ms, ${String(SECONDS)} s rounds`,
  );
  await pool.start();
  const rounds: Round[] = [];
  const closed: Round[] = [];
  try {
    if (CLOSED > 0) {
      for (let n = 0; n < 200; n++)
        pool.submit(0, OP_PUT, n % STORES, `key${String(n)}`, VALUE, { onReply: () => undefined });
      for (const mode of ['each', 'polls'] as const) await closedRounds(pool, mode, CLOSED / 4);
      for (let i = 0; i < ROUNDS; i++)
        for (const mode of i % 2 === 0 ? (['each', 'polls'] as const) : (['polls', 'each'] as const)) {
          const r = await closedRounds(pool, mode, CLOSED);
          closed.push(r);
          console.log(
            `closed ${mode}: ${String(CLOSED)} rounds in ${String(r.messages)} messages; main ${(r.mainUs / CLOSED).toFixed(1)} + other ${(r.otherUs / CLOSED).toFixed(1)} µs per round`,
          );
        }
    }
    // Untimed: both ways once, so neither round is the one that compiles the code.
    if (SECONDS > 0) for (const mode of ['each', 'polls'] as const) await round(pool, mode, WARMUP_S);
    for (let i = 0; i < (SECONDS > 0 ? ROUNDS : 0); i++)
      for (const mode of i % 2 === 0 ? (['each', 'polls'] as const) : (['polls', 'each'] as const)) {
        const r = await round(pool, mode, SECONDS);
        rounds.push(r);
        const rounds_ = r.polls / STORES;
        console.log(
          `${mode}: ${String(r.records)} records, ${String(r.polls)} polls in ${String(r.messages)} messages; ` +
            `main ${(r.mainUs / rounds_).toFixed(1)} + other ${(r.otherUs / rounds_).toFixed(1)} µs per poll round, ` +
            `${(r.mainUs / r.records).toFixed(3)} + ${(r.otherUs / r.records).toFixed(3)} µs per record`,
        );
      }
  } finally {
    await pool.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const summary: Record<string, unknown> = {};
  for (const mode of ['each', 'polls']) {
    const rs = closed.filter((r) => r.mode === mode);
    if (rs.length > 0)
      summary[`closed-${mode}`] = {
        mainUsPerRound: median(rs.map((r) => r.mainUs / CLOSED)),
        otherUsPerRound: median(rs.map((r) => r.otherUs / CLOSED)),
      };
  }
  for (const mode of ['each', 'polls']) {
    const rs = rounds.filter((r) => r.mode === mode);
    if (rs.length > 0)
      summary[mode] = {
        mainUsPerPollRound: median(rs.map((r) => r.mainUs / (r.polls / STORES))),
        otherUsPerPollRound: median(rs.map((r) => r.otherUs / (r.polls / STORES))),
        mainUsPerRecord: median(rs.map((r) => r.mainUs / r.records)),
        otherUsPerRecord: median(rs.map((r) => r.otherUs / r.records)),
        messagesPerPollRound: median(rs.map((r) => r.messages / (r.polls / STORES))),
      };
  }
  console.log(JSON.stringify(summary, null, 2));
}

await main();
