/**
 * Replay benchmark: how long a worker takes to replay a large commit log at start (openLsmStores,
 * src/storage/lsm-recovery.ts), in this build and in a baseline build, alternated round by round on
 * the same log (docs/operations.md, "progress of a start").
 *
 * First it writes `--mib` MiB of `--value-bytes` values into one store whose memtable holds them
 * all (`memtable_bytes` above the data: nothing is flushed, every record is replayed) with
 * `durability = "interval"`, `--concurrency` puts in flight, and leaves without closing it (as a
 * kill -9). Then per round and build a child process opens the store over that log, with the
 * progress reports posted on a MessagePort as a worker posts them to the main thread, prints the
 * time, and leaves without closing (the log stays as it was, but for one base frame per open).
 * Prints Node's version, the CPU count, the log size, each round (wall and CPU time: on a shared
 * machine the wall time swings with the other load, the CPU time much less) and the median of each
 * build, and the ratios of this build's medians to the baseline's.
 *
 *   node dist/bench/replay-bench.js [--mib 1024] [--value-bytes 1024] [--concurrency 256] [--rounds 3] [--baseline DIR]
 *
 * `--baseline DIR` is another built checkout (DIR/dist/src/...); without it only this build runs.
 * Internal: `--mode write|replay --dir DIR [--build DIR]` run one step (this script spawns them).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { arg, count } from './lib/args.js';

const MIB = arg('mib', '1024');
const VALUE_BYTES = count('value-bytes', 1024);
const CONCURRENCY = count('concurrency', 256);
const ROUNDS = count('rounds', 3);
const BASELINE = arg('baseline', '');
/** THIS_BUILD is this checkout's root (dist/bench/ is two levels below it). */
const THIS_BUILD = fileURLToPath(new URL('../../', import.meta.url));

interface Recovery {
  openLsmStores: (
    settings: { vfs: unknown; dir: string },
    all: unknown[],
    report?: (r: unknown) => void,
  ) => Promise<{ stores: ({ put: (k: Buffer, v: Buffer) => Promise<unknown> } | Error)[] }>;
}

/** open opens the bench's store in `dir` with `build`'s recovery code. */
async function open(build: string, dir: string, report?: (r: unknown) => void) {
  const mod = (p: string): Promise<unknown> => import(pathToFileURL(join(build, 'dist', 'src', p)).href);
  const { openLsmStores } = (await mod('storage/lsm-recovery.js')) as Recovery;
  const { RealVfs } = (await mod('storage/real-vfs.js')) as { RealVfs: new () => unknown };
  const vfs = new RealVfs();
  const opened = await openLsmStores(
    { vfs, dir: join(dir, 'log', 'w0') },
    [
      {
        dir: join(dir, 'node', 'shard-0'),
        vfs,
        durability: 'interval',
        fsyncIntervalMs: 20,
        memtableBytes: 64 * 1024 ** 3,
        maxRuns: 8,
        walSegmentBytes: 64 << 20,
        walRetentionBytes: 1 << 30,
        blockCacheBytes: 8 << 20,
        ringBytes: 1 << 20,
        repair: false,
      },
    ],
    report,
  );
  const store = opened.stores[0]!;
  if (store instanceof Error) throw store;
  return store;
}

async function write(dir: string): Promise<void> {
  const store = await open(THIS_BUILD, dir);
  const value = Buffer.alloc(VALUE_BYTES, 7);
  const count = Math.ceil((Number(MIB) * 1024 * 1024) / VALUE_BYTES);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const k = next++;
      await store.put(Buffer.from(`key-${k}`), value);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  // Durable in the log (interval: synced within 20 ms); then gone without a close, as a kill -9.
  await new Promise((r) => setTimeout(r, 200));
  process.exit(0);
}

async function replayOnce(build: string, dir: string): Promise<void> {
  const { port1, port2 } = new MessageChannel();
  let reports = 0;
  port2.on('message', () => reports++);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await open(build, dir, (r) => {
    port1.postMessage(r);
  });
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  await new Promise((r) => setTimeout(r, 50));
  process.stdout.write(`${JSON.stringify({ ms, cpuMs, reports })}\n`);
  process.exit(0);
}

function logBytes(dir: string): number {
  const d = join(dir, 'log', 'w0');
  return readdirSync(d).reduce((n, f) => n + statSync(join(d, f)).size, 0);
}

function run(args: string[]): string {
  const r = spawnSync(
    process.execPath,
    ['--max-old-space-size=16384', fileURLToPath(import.meta.url), ...args],
    {
      encoding: 'utf8',
      maxBuffer: 16 << 20,
    },
  );
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function main(): Promise<void> {
  const mode = arg('mode', '');
  const dirArg = arg('dir', '');
  if (mode === 'write') return write(dirArg);
  if (mode === 'replay') return replayOnce(arg('build', THIS_BUILD), dirArg);
  const dir = mkdtempSync(join(tmpdir(), 'distkv-replay-bench-'));
  try {
    console.log(
      `node ${process.version}, ${availableParallelism()} CPUs; ${MIB} MiB of ${VALUE_BYTES}-byte values, ${CONCURRENCY} puts in flight, durability interval`,
    );
    const tw = performance.now();
    run([
      '--mode',
      'write',
      '--dir',
      dir,
      '--mib',
      MIB,
      '--value-bytes',
      String(VALUE_BYTES),
      '--concurrency',
      String(CONCURRENCY),
    ]);
    console.log(
      `wrote ${(logBytes(dir) / 2 ** 20).toFixed(0)} MiB of log in ${((performance.now() - tw) / 1000).toFixed(1)} s`,
    );
    const builds =
      BASELINE === ''
        ? [['this', THIS_BUILD]]
        : [
            ['baseline', BASELINE],
            ['this', THIS_BUILD],
          ];
    const times = new Map<string, number[]>(builds.map(([name]) => [name!, []]));
    const cpus = new Map<string, number[]>(builds.map(([name]) => [name!, []]));
    for (let round = 1; round <= ROUNDS; round++)
      for (const [name, build] of round % 2 === 0 ? [...builds].reverse() : builds) {
        const { ms, cpuMs, reports } = JSON.parse(
          run(['--mode', 'replay', '--dir', dir, '--build', build!]),
        ) as {
          ms: number;
          cpuMs: number;
          reports: number;
        };
        times.get(name!)!.push(ms);
        cpus.get(name!)!.push(cpuMs);
        console.log(
          `round ${round} ${name}: replay ${ms.toFixed(0)} ms, ${cpuMs.toFixed(0)} ms CPU (${reports} progress reports)`,
        );
      }
    for (const [name, xs] of times)
      console.log(
        `${name}: median ${median(xs).toFixed(0)} ms, ${median(cpus.get(name)!).toFixed(0)} ms CPU`,
      );
    const ratio = (m: Map<string, number[]>): string =>
      (median(m.get('this')!) / median(m.get('baseline')!)).toFixed(3);
    if (BASELINE !== '') console.log(`this / baseline: ${ratio(times)} wall, ${ratio(cpus)} CPU`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
