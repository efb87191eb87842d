/**
 * GET and PUT of large values (docs/performance.md, "Large values"): what a client that stores
 * values near `max_value_bytes` (1 MiB by default) gets, in MB/s and in server CPU per request.
 *
 * One server per build, config/default.toml's layout (4 shards with a replica each) on one shard
 * worker, durability fsync. For each size, one key holds a value of that size; `wrk -t1 -c<conns>`
 * GETs it for --seconds (after 1 s of warm-up), and PUTs of that size run the same way (a wrk
 * script that sends the same body each time). Each round measures every build in turn (the order
 * alternates between rounds), and reports MB/s and the server process's CPU per request split into
 * its main thread and its worker (lib/thread-stats.ts). With --before DIR (another built checkout)
 * the medians are printed side by side with after ÷ before.
 *
 * `npm run bench:large-values -- [OPTIONS]` builds the checkout, then runs it; on a built checkout:
 * Usage: node dist/bench/large-values.js [--sizes 65536,1048576] [--conns 8] [--seconds 4]
 *        [--rounds 3] [--ops get,put] [--before DIR]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { arg, choices, count, counts } from './lib/args.js';
import { requireTools } from './lib/tools.js';
import { median } from './lib/compare-stats.js';
import { freePort, oneWorkerServeArgs, ROOT, startProcess } from './lib/processes.js';
import { ThreadStats } from './lib/thread-stats.js';

const SIZES = counts('sizes', '65536,1048576');
const CONNS = count('conns', 8);
const SECONDS = count('seconds', 4);
const ROUNDS = count('rounds', 3);
const OPS = choices('ops', 'get,put', ['get', 'put'] as const);
const BEFORE = arg('before', '');
requireTools(['wrk']);

interface Build {
  name: string;
  dir: string;
  commit: string;
}

/** Sample is one measurement: MB/s and server CPU µs per request (main thread, worker). */
interface Sample {
  mbps: number;
  mainUs: number;
  workerUs: number;
}

const commitOf = (dir: string): string =>
  (
    (spawnSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout as
      string | null) ?? ''
  ).trim() || '?';

function builds(): Build[] {
  const own: Build = { name: BEFORE === '' ? 'this' : 'after', dir: ROOT, commit: commitOf(ROOT) };
  if (BEFORE === '') return [own];
  const dir = resolve(BEFORE);
  if (!existsSync(join(dir, 'dist', 'src', 'cli', 'main.js')))
    throw new Error(`--before ${dir}: not a built checkout (run "npx tsc -p tsconfig.json" there)`);
  return [own, { name: 'before', dir, commit: commitOf(dir) }];
}

/** wrk runs wrk against `url` (with the Lua script `script`, if any) and returns requests/s. */
function wrk(url: string, seconds: number, script?: string): number {
  const args = ['-t1', `-c${CONNS}`, `-d${seconds}s`, ...(script === undefined ? [] : ['-s', script]), url];
  const r = spawnSync('wrk', args, { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? 0);
  if (non2xx > 0) throw new Error(`wrk ${url}: ${non2xx} answers were not 2xx`);
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? NaN);
}

/** putScript writes a wrk script that PUTs `size` bytes to /kv/lvput<size>-<n> (16 keys in turn). */
function putScript(dir: string, size: number): string {
  const path = join(dir, `put-${size}.lua`);
  writeFileSync(
    path,
    `wrk.method = "PUT"\nwrk.body = string.rep("v", ${size})\nlocal n = 0\n` +
      `request = function()\n  n = (n + 1) % 16\n  return wrk.format(nil, "/kv/lvput${size}-" .. n)\nend\n`,
  );
  return path;
}

async function measure(build: Build, work: string): Promise<Map<string, Sample>> {
  const dir = mkdtempSync(join(tmpdir(), 'distkv-large-'));
  const port = await freePort();
  const replicaPort = await freePort();
  const server = await startProcess(
    oneWorkerServeArgs(build.dir, dir, port, replicaPort, 'fsync'),
    `http://127.0.0.1:${port}/healthz`,
    {},
    60000,
  );
  const out = new Map<string, Sample>();
  try {
    const stats = new ThreadStats(server.proc.pid!, 1);
    for (const size of SIZES) {
      const r = await fetch(`http://127.0.0.1:${port}/kv/lv${size}`, {
        method: 'PUT',
        body: 'g'.repeat(size),
      });
      if (r.status !== 204) throw new Error(`PUT of ${size} bytes answered ${r.status}`);
      for (const op of OPS) {
        const url = `http://127.0.0.1:${port}/kv/lv${size}`;
        const script = op === 'put' ? putScript(work, size) : undefined;
        wrk(url, 1, script);
        stats.begin();
        const rps = wrk(url, SECONDS, script);
        const cpu = stats.end();
        const n = rps * SECONDS;
        out.set(`${op} ${size}`, {
          mbps: (rps * size) / 1e6,
          mainUs: (cpu.main / n) * 1e6,
          workerUs: (cpu.workers / n) * 1e6,
        });
      }
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

async function main(): Promise<void> {
  const bs = builds();
  const work = mkdtempSync(join(tmpdir(), 'distkv-large-lua-'));
  console.log(
    `large values: node ${process.version}, ${availableParallelism()} CPUs, load ${loadavg()[0]!.toFixed(1)}; ` +
      `${bs.map((b) => `${b.name} = ${b.commit}`).join(', ')}; wrk -t1 -c${CONNS}, ${SECONDS} s, ${ROUNDS} rounds; ` +
      `default layout on one worker, durability fsync`,
  );
  const samples = new Map<string, Map<string, Sample[]>>(bs.map((b) => [b.name, new Map()]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? bs : [...bs].reverse();
    for (const b of order) {
      const got = await measure(b, work);
      for (const [row, s] of got) {
        const list = samples.get(b.name)!.get(row) ?? [];
        list.push(s);
        samples.get(b.name)!.set(row, list);
        console.log(
          `round ${round + 1} ${b.name.padEnd(6)} ${row.padEnd(12)} ${s.mbps.toFixed(0).padStart(6)} MB/s  ` +
            `main ${s.mainUs.toFixed(0)} µs  worker ${s.workerUs.toFixed(0)} µs per request`,
        );
      }
    }
  }
  rmSync(work, { recursive: true, force: true });
  console.log('\nmedians (MB/s; server CPU µs per request, main + worker)');
  const rows = [...samples.get(bs[0]!.name)!.keys()];
  for (const row of rows) {
    const cells = bs.map((b) => {
      const list = samples.get(b.name)!.get(row)!;
      const m = (f: (s: Sample) => number): number => median(list.map(f));
      return { mbps: m((s) => s.mbps), main: m((s) => s.mainUs), worker: m((s) => s.workerUs) };
    });
    const text = cells.map(
      (c, i) => `${bs[i]!.name} ${c.mbps.toFixed(0)} MB/s (${c.main.toFixed(0)} + ${c.worker.toFixed(0)} µs)`,
    );
    const ratio =
      cells.length === 2 ? `  after ÷ before ${(cells[0]!.mbps / cells[1]!.mbps).toFixed(2)}` : '';
    console.log(`${row.padEnd(12)} ${text.join('  ')}${ratio}`);
  }
}

await main();
