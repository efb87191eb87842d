/**
 * `npm run bench:resp`: distkv's RESP listener against redis-server, with redis-server's own tool.
 *
 *  1. `redis-benchmark -t set,get -c 50 -P <1|16> -d 100 -r 100000 -n N` against distkv's RESP
 *     listener (the default layout: 4 shards, leaders and replicas in one process, durability
 *     fsync) and against a redis-server started here (appendfsync always, AOF in a temp dir, on a
 *     free loopback port); the targets alternate round by round (reversed every other round).
 *  2. RESP GET against HTTP GET on the same distkv process, with distkv's own load generator
 *     (same connections, same keys, get:100), alternated the same way.
 * Reported: median requests/s per target and the median of the per-round ratios. The table is
 * printed and written into docs/performance.md between the bench:resp markers.
 *
 * A third target is the node:net + Map baseline (bench/baseline/resp-server.ts): what a Node.js
 * RESP server reaches here without worker threads or storage (the "baseline ÷ redis" column); its
 * SETs are acknowledged after one write and fdatasync per turn, as redis-server's with appendfsync
 * always, so both columns compare durable SETs.
 * `--before DIR` adds a fourth target to step 1: distkv built from another checkout (DIR holds its
 * bin/ and dist/, e.g. the branch point), same layout, alternated with the other two, so a change
 * is reported as after ÷ before from one run. `--inline 1` runs every distkv target with its stores
 * on the main thread (no worker hop). `--http 0` skips step 2.
 *
 * Usage: node dist/bench/resp-bench.js [--requests 200000] [--rounds 3] [--seconds 10] [--before DIR] [--inline 1] [--http 0]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LOAD, runLoad } from '../src/loadgen/loadgen.js';
import { arg } from './lib/args.js';
import { type Child, defaultLayoutConfig, freePort, ROOT, startProcess, stopChild } from './lib/processes.js';
import { hasRedis, respPing, startRedis } from './lib/redis.js';

const REQUESTS = Number(arg('requests', '200000'));
const ROUNDS = Number(arg('rounds', '3'));
const SECONDS = Number(arg('seconds', '10'));
const BEFORE = arg('before', '');
const HTTP = arg('http', '1') !== '0';
/** SERVE_ARGS are extra `distkv serve` flags for every distkv target (`--inline 1`: stores on the main thread). */
const SERVE_ARGS = arg('inline', '0') === '1' ? ['--inline'] : [];
const RESP_OFFSET = 1000;
const DOC = join(ROOT, 'docs', 'performance.md');
const START = '<!-- bench:resp start -->';
const END = '<!-- bench:resp end -->';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => {
      resolve(false);
    });
    srv.listen(port, '127.0.0.1', () => {
      srv.close(() => {
        resolve(true);
      });
    });
  });
}

/** nodePort returns a free port whose RESP twin (port + 1000) is free too. */
async function nodePort(): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (p + RESP_OFFSET <= 65535 && (await isFree(p + RESP_OFFSET))) return p;
  }
}

/**
 * startRespBaseline starts the node:net + Map RESP baseline (bench/baseline/resp-server.ts), its SETs
 * logged and fdatasynced per turn in `logDir`, and waits for PING.
 */
async function startRespBaseline(port: number, logDir: string): Promise<Child> {
  const t0 = performance.now();
  const args = ['dist/bench/baseline/resp-server.js', '--port', String(port), '--log', logDir, '--sync'];
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 10000;
  while (!(await respPing(port))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error('the RESP baseline did not answer PING within 10 s');
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { proc, startupMs: performance.now() - t0, stop: () => stopChild(proc) };
}

const TICKS_PER_S = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/**
 * cpuSeconds is the user + system CPU time a process has used so far, from /proc: all its threads,
 * or with `mainThread` only its main thread (the thread whose id is the process id: distkv's front
 * doors, HTTP and RESP).
 */
function cpuSeconds(pid: number, mainThread = false): number {
  const stat = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
}

/** Run is one target's figures in one round: requests/s and server CPU µs per request, per test. */
type Run = Record<string, number>;

/**
 * redisBenchmark runs redis-benchmark once per test (SET, then GET) and returns requests/s and the
 * server's CPU µs per request of each (`SET`, `GET`, `SET cpu`, `GET cpu`), and of its main
 * thread alone (`SET main`, `GET main`).
 */
function redisBenchmark(port: number, pid: number, pipeline: number): Run {
  const out: Run = {};
  for (const test of ['SET', 'GET']) {
    const args = ['-h', '127.0.0.1', '-p', String(port), '-t', test.toLowerCase(), '-c', '50'];
    args.push('-P', String(pipeline), '-d', '100', '-r', '100000', '-n', String(REQUESTS), '--csv');
    const cpu0 = cpuSeconds(pid);
    const main0 = cpuSeconds(pid, true);
    const r = spawnSync('redis-benchmark', args, { encoding: 'utf8', timeout: 1_800_000 });
    const cpu = cpuSeconds(pid) - cpu0;
    const main = cpuSeconds(pid, true) - main0;
    if (r.status !== 0) throw new Error(`redis-benchmark ${args.join(' ')} failed: ${r.stderr}`);
    const m = new RegExp(`^"${test}","([\\d.]+)"`, 'm').exec(r.stdout);
    if (m === null) throw new Error(`unexpected output:\n${r.stdout}`);
    out[test] = Number(m[1]);
    out[`${test} cpu`] = (cpu * 1e6) / REQUESTS;
    out[`${test} main`] = (main * 1e6) / REQUESTS;
  }
  return out;
}

async function main(): Promise<void> {
  if (!hasRedis() || spawnSync('redis-benchmark', ['--version']).error !== undefined)
    throw new Error(
      'bench:resp needs redis-server and redis-benchmark (Debian: apt-get install redis-server redis-tools)',
    );
  const dir = mkdtempSync(join(tmpdir(), 'distkv-resp-bench-'));
  const children: Child[] = [];
  const header = `node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}); ${SERVE_ARGS.length > 0 ? 'distkv --inline; ' : ''}redis-benchmark -c 50 -d 100 -r 100000 -n ${REQUESTS}; ${ROUNDS} rounds alternated, medians; the machine was shared with other jobs`;
  process.stdout.write(`# bench:resp | ${header}\n`);
  try {
    const [lp, rp] = [await nodePort(), await nodePort()];
    const cfg = defaultLayoutConfig(dir, lp, rp);
    children.push(
      await startProcess(
        ['bin/distkv.js', 'serve', '--config', cfg, '--data-dir', join(dir, 'data'), ...SERVE_ARGS],
        `http://127.0.0.1:${lp}/healthz`,
      ),
    );
    const redisPort = await freePort();
    mkdirSync(join(dir, 'redis'));
    children.push(await startRedis(redisPort, 'always', join(dir, 'redis')));
    const basePort = await freePort();
    mkdirSync(join(dir, 'baseline'));
    children.push(await startRespBaseline(basePort, join(dir, 'baseline')));
    const pid = (c: Child | undefined): number => c?.proc.pid ?? 0;
    const targets = [
      { name: 'distkv RESP', port: lp + RESP_OFFSET, pid: pid(children[0]) },
      { name: 'redis-server (appendfsync always)', port: redisPort, pid: pid(children[1]) },
      { name: 'node:net + Map baseline', port: basePort, pid: pid(children[2]) },
    ];
    if (BEFORE !== '') {
      const [blp, brp] = [await nodePort(), await nodePort()];
      mkdirSync(join(dir, 'before'));
      const bcfg = defaultLayoutConfig(join(dir, 'before'), blp, brp);
      children.push(
        await startProcess(
          [
            join(BEFORE, 'bin/distkv.js'),
            'serve',
            '--config',
            bcfg,
            '--data-dir',
            join(dir, 'before', 'data'),
            ...SERVE_ARGS,
          ],
          `http://127.0.0.1:${blp}/healthz`,
        ),
      );
      targets.push({ name: 'distkv RESP before', port: blp + RESP_OFFSET, pid: pid(children[3]) });
    }

    const rows: string[] = [];
    const cpuRows: string[] = [];
    for (const pipeline of [1, 16]) {
      const runs = new Map<string, Run[]>();
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 === 0 ? targets : [...targets].reverse();
        for (const t of order) {
          const r = redisBenchmark(t.port, t.pid, pipeline);
          process.stdout.write(
            `-P ${pipeline} round ${round + 1} ${t.name}: SET ${r.SET} GET ${r.GET} req/s; CPU per request SET ${r['SET cpu']!.toFixed(1)} GET ${r['GET cpu']!.toFixed(1)} µs (main thread ${r['SET main']!.toFixed(1)}, ${r['GET main']!.toFixed(1)})\n`,
          );
          runs.set(t.name, [...(runs.get(t.name) ?? []), r]);
        }
      }
      const d = runs.get(targets[0]!.name)!;
      const r = runs.get(targets[1]!.name)!;
      const n = runs.get(targets[2]!.name)!;
      const b = BEFORE === '' ? undefined : runs.get(targets[3]!.name)!;
      for (const test of ['GET', 'SET']) {
        const ratio = (xs: Run[], ys: Run[], key = test): string =>
          median(xs.map((x, i) => x[key]! / ys[i]![key]!)).toFixed(2);
        const rate = (xs: Run[]): number => Math.round(median(xs.map((x) => x[test]!)));
        const cells = [test, pipeline, rate(d), rate(r), `**${ratio(d, r)}**`, ratio(n, r)];
        if (b !== undefined) cells.push(rate(b), ratio(b, r), `**${ratio(d, b)}**`);
        rows.push(`| ${cells.join(' | ')} |`);
        const cpu = `${test} cpu`;
        const us = (xs: Run[]): string => median(xs.map((x) => x[cpu]!)).toFixed(1);
        const main = `${test} main`;
        const mainUs = (xs: Run[]): string => median(xs.map((x) => x[main]!)).toFixed(1);
        const cpuCells = [test, pipeline, us(d), mainUs(d), us(r), us(n), `**${ratio(d, r, cpu)}**`];
        if (b !== undefined) cpuCells.push(us(b), mainUs(b), `**${ratio(d, b, cpu)}**`);
        cpuRows.push(`| ${cpuCells.join(' | ')} |`);
      }
    }

    const columns =
      BEFORE === ''
        ? [
            '| test | -P | distkv RESP req/s | redis-server req/s | distkv ÷ redis | baseline ÷ redis |',
            '| ---- | -- | --- | --- | --- | --- |',
          ]
        : [
            '| test | -P | distkv RESP req/s | redis-server req/s | distkv ÷ redis | baseline ÷ redis | before req/s | before ÷ redis | after ÷ before |',
            '| ---- | -- | --- | --- | --- | --- | --- | --- | --- |',
          ];
    const cpuColumns = [
      `| test | -P | distkv µs | of which main thread | redis-server µs | baseline µs | distkv ÷ redis${BEFORE === '' ? '' : ' | before µs | of which main thread | after ÷ before'} |`,
      `| ---- | -- | --- | --- | --- | --- | ---${BEFORE === '' ? '' : ' | --- | --- | ---'} |`,
    ];
    const table = [
      `Measured by \`npm run bench:resp${BEFORE === '' ? '' : ' -- --before <branch point>'}\` (${new Date().toISOString().slice(0, 10)}): ${header}.`,
      '',
      ...columns,
      ...rows,
      '',
      'Server CPU (user + system from /proc: all threads, and the main thread alone, where the RESP listener runs) per request, medians of the rounds; lower is better:',
      '',
      ...cpuColumns,
      ...cpuRows,
    ];
    if (HTTP) table.push('', await httpComparison(lp));
    const text = table.join('\n');
    process.stdout.write(`\n${text}\n`);
    const doc = readFileSync(DOC, 'utf8');
    const at = doc.indexOf(START);
    const end = doc.indexOf(END);
    if (at >= 0 && end > at)
      writeFileSync(DOC, `${doc.slice(0, at + START.length)}\n\n${text}\n\n${doc.slice(end)}`);
  } finally {
    for (const c of children) await c.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** httpComparison measures RESP GET against HTTP GET on the distkv process at HTTP port `lp` and returns the sentence. */
async function httpComparison(lp: number): Promise<string> {
  const base = {
    ...DEFAULT_LOAD,
    mix: 'get:100',
    keys: 100000,
    valueSize: 100,
    concurrency: 50,
    threads: 1,
  };
  await runLoad({
    ...base,
    url: `http://127.0.0.1:${lp}`,
    preload: true,
    durationS: 0.001,
    warmupS: 0,
    requests: 1,
  });
  const proto = [
    { name: 'RESP', url: `redis://127.0.0.1:${lp + RESP_OFFSET}` },
    { name: 'HTTP', url: `http://127.0.0.1:${lp}` },
  ];
  const gets = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? proto : [...proto].reverse();
    for (const p of order) {
      const r = await runLoad({ ...base, url: p.url, preload: false, durationS: SECONDS, warmupS: 2 });
      process.stdout.write(
        `GET round ${round + 1} ${p.name}: ${Math.round(r.throughput)} req/s, ${r.errors} errors\n`,
      );
      gets.set(p.name, [...(gets.get(p.name) ?? []), r.throughput]);
    }
  }
  const resp = gets.get('RESP')!;
  const http = gets.get('HTTP')!;
  const getRatio = median(resp.map((x, i) => x / http[i]!));
  return `RESP GET ÷ HTTP GET on the same distkv process (distkv's load generator, 1 thread, 50 connections, get:100 over 100000 preloaded keys, ${SECONDS} s after 2 s warm-up): **${getRatio.toFixed(2)}** (medians ${Math.round(median(resp))} vs ${Math.round(median(http))} req/s).`;
}

await main();
