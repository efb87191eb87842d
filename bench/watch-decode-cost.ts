/**
 * The CPU of watch decoding per event, this build against the one before (docs/performance.md,
 * "Watch: the client's decoding"), on the watch bench's events (puts of `key<N>` with 100-byte
 * values over 4 shards, binary stream version 2, read in 64 KiB chunks):
 *   client    what `client.watch` does per change it yields (src/client/watch-decode.ts) against
 *             the decoding it replaced (test/helpers/legacy-watch-decode.ts, with `--before DIR`'s
 *             reader and cursor functions): read by a caller that takes each change's type, key and
 *             value (`apply`), and by one that also reads its version and cursor (`all`)
 *   hub       what the server's main thread does per record of a feed batch for a broadcast:
 *             decode the worker's log bytes (store-log.ts decodeLog) and encode them once as
 *             binary changes (sharedBlock) with a shard's epoch history lookup, this build's
 *             (batchEpochs) against DIR's
 * Rounds alternate the two; each reports this thread's CPU time (process.cpuUsage) per event, and
 * the medians and spreads are printed at the end. Nothing is kept across events (a counter
 * takes what a caller reads), so the garbage each way makes is collected as it would be.
 *
 * Usage: node dist/bench/watch-decode-cost.js --before DIR [--rounds 7] [--events 200000] [--rows "client apply,client all,hub"]
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readFrames, type WatchChange, WatchEvents } from '../src/client/watch-decode.js';
import { epochOfSeq } from '../src/routing/version.js';
import { encodeRecord, recordSize, TYPE_PUT } from '../src/storage/wal-format.js';
import * as storeLog from '../src/watch/store-log.js';
import { changeFrames } from '../src/watch/watch-binary-format.js';
import * as watchEvent from '../src/watch/watch-event.js';
import { type LegacyModules, legacyChanges } from '../test/helpers/legacy-watch-decode.js';
import { arg, count } from './lib/args.js';
import { median } from './lib/compare-stats.js';
import { printHeader } from './micro/header.js';

const BEFORE = arg('before', '');
const ROUNDS = count('rounds', 7);
const EVENTS = count('events', 200000);
// which rows to run (default all)
const ROWS = arg('rows', 'client apply,client all,hub').split(',');
const SHARDS = 4;
const BATCH = 400;
const VALUE = Buffer.from('v'.repeat(100));
const PREFIX = Buffer.from('key');
// a shard's epoch history after two failovers: the hub's lookup scans it per call
const HISTORY = [
  { epoch: 0, firstSeq: 1 },
  { epoch: 1, firstSeq: 5 },
  { epoch: 2, firstSeq: 9 },
];

/** stream is the binary stream (version 2) of EVENTS puts in batches of BATCH, cut in 64 KiB chunks. */
function stream(): Buffer[] {
  const parts: Buffer[] = [Buffer.from([2])];
  const seqs = new Array<number>(SHARDS).fill(10);
  for (let b = 0; b * BATCH < EVENTS; b++) {
    const shard = b % SHARDS;
    const batch = Array.from({ length: BATCH }, (_, i) => ({
      kind: 'put' as const,
      seq: ++seqs[shard]!,
      key: Buffer.from(`key${String(((b * BATCH + i) * 7919) % 100000)}`),
      value: VALUE,
    }));
    parts.push(changeFrames(batch, shard, PREFIX, true, () => 2, 2));
  }
  const all = Buffer.concat(parts);
  const chunks: Buffer[] = [];
  for (let at = 0; at < all.length; at += 65536) chunks.push(all.subarray(at, at + 65536));
  return chunks;
}

/** logBatch is one feed batch as a worker's `watch-read` returns it: BATCH puts. */
function logBatch(): Buffer {
  const size = recordSize(8, VALUE.length);
  const b = Buffer.alloc(size * BATCH);
  for (let i = 0; i < BATCH; i++)
    encodeRecord(b, i * size, TYPE_PUT, 100 + i, Buffer.from(`key${String(10000 + i)}`), VALUE);
  return b;
}

let sink = 0;
const apply = (c: WatchChange): void => {
  sink += c.type.length + (c.key?.length ?? 0) + (c.value?.length ?? 0);
};
const all = (c: WatchChange): void => {
  apply(c);
  sink += (c.version?.length ?? 0) + c.cursor.length;
};

/** cpuNsPerEvent runs `fn` (which handles `events` events) and returns this thread's CPU ns per event. */
async function cpuNsPerEvent(events: number, fn: () => Promise<void> | void): Promise<number> {
  const t = process.cpuUsage();
  await fn();
  const u = process.cpuUsage(t);
  return ((u.user + u.system) * 1000) / events;
}

async function newClient(chunks: Buffer[], take: (c: WatchChange) => void): Promise<void> {
  const events = new WatchEvents(true, take, () => undefined);
  async function* body(): AsyncGenerator<Buffer> {
    for (const c of chunks) yield await Promise.resolve(c);
  }
  await readFrames(body(), events, () => Promise.resolve());
}

interface HubModules {
  decodeLog: typeof storeLog.decodeLog;
  sharedBlock: typeof watchEvent.sharedBlock;
  batchEpochs: typeof watchEvent.batchEpochs | undefined;
}

function hub(m: HubModules, bytes: Buffer, batches: number): void {
  const epochOf = (seq: number): number => epochOfSeq(HISTORY, seq);
  for (let i = 0; i < batches; i++) {
    const batch = m.decodeLog(bytes);
    const of = m.batchEpochs === undefined ? epochOf : m.batchEpochs(batch, epochOf);
    sink += m.sharedBlock(batch, 1, PREFIX, true, 'bin2', of).length;
  }
}

async function main(): Promise<void> {
  if (BEFORE === '') throw new Error('--before DIR (a built checkout) is required');
  printHeader(`watch decode cost (${EVENTS} events, ${ROUNDS} rounds, before ${BEFORE})`);
  const dir = (path: string): string => pathToFileURL(join(resolve(BEFORE), 'dist', path)).href;
  const before: LegacyModules = {
    ...((await import(dir('src/watch/watch-binary-reader.js'))) as Pick<LegacyModules, 'BinaryWatchReader'>),
    ...((await import(dir('src/watch/watch-cursor.js'))) as Pick<
      LegacyModules,
      'formatCursor' | 'parseFrom'
    >),
    ...((await import(dir('src/routing/version.js'))) as Pick<LegacyModules, 'parseVersion'>),
  };
  // (DIR's batchEpochs when it has one: a build before it scanned the history per record)
  const beforeEvent = (await import(dir('src/watch/watch-event.js'))) as Partial<HubModules> &
    Pick<HubModules, 'sharedBlock'>;
  const beforeHub: HubModules = {
    batchEpochs: beforeEvent.batchEpochs,
    ...((await import(dir('src/watch/store-log.js'))) as Pick<HubModules, 'decodeLog'>),
    sharedBlock: beforeEvent.sharedBlock,
  };
  const thisHub: HubModules = {
    decodeLog: storeLog.decodeLog,
    sharedBlock: watchEvent.sharedBlock,
    batchEpochs: watchEvent.batchEpochs,
  };
  const chunks = stream();
  const bytes = logBatch();
  const batches = Math.ceil(EVENTS / BATCH);
  const rows: Record<string, (() => Promise<void> | void)[]> = {
    'client apply': [() => newClient(chunks, apply), () => void legacyChanges(chunks, true, apply, before)],
    'client all': [() => newClient(chunks, all), () => void legacyChanges(chunks, true, all, before)],
    hub: [
      () => {
        hub(thisHub, bytes, batches);
      },
      () => {
        hub(beforeHub, bytes, batches);
      },
    ],
  };
  const runs = Object.fromEntries(Object.entries(rows).filter(([name]) => ROWS.includes(name)));
  const results: Record<string, { after: number[]; before: number[] }> = {};
  for (const [name, [after, old]] of Object.entries(runs)) {
    const r = (results[name] = { after: [] as number[], before: [] as number[] });
    // one warm-up each, then alternated rounds (the order flips every round)
    await cpuNsPerEvent(EVENTS, after!);
    await cpuNsPerEvent(EVENTS, old!);
    for (let round = 0; round < ROUNDS; round++) {
      const pair = [
        async () => r.after.push(await cpuNsPerEvent(EVENTS, after!)),
        async () => r.before.push(await cpuNsPerEvent(EVENTS, old!)),
      ];
      if (round % 2 === 1) pair.reverse();
      for (const run of pair) await run();
    }
  }
  for (const [name, r] of Object.entries(results)) {
    const span = (xs: number[]): string =>
      `${String(Math.round(Math.min(...xs)))}-${String(Math.round(Math.max(...xs)))}`;
    const ratios = r.after.map((a, i) => a / r.before[i]!);
    process.stdout.write(
      `${name}: ns/event after ${median(r.after).toFixed(0)} (${span(r.after)}), before ${median(r.before).toFixed(0)} (${span(r.before)}), after ÷ before ${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})\n`,
    );
  }
  if (sink === -1) process.stdout.write('\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
