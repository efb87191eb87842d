/**
 * The HTTP figures of the backbone, measured in one run on one machine (docs/performance.md):
 *  - GET /kv/{key} on distkv's default layout vs the bare uWS+Map baseline (ratio, p99);
 *  - the same with 16 requests pipelined per connection (bench/wrk/get-kv-pipelined.lua);
 *  - GET /get?key= (seed endpoint) vs GET /kv/{key};
 *  - PUT /kv/{key} acknowledged writes/s in the configured durability mode;
 *  - startup to first served request with empty stores;
 *  - with `--before DIR` (another checkout, built), plain GET and PUT on its distkv too, so a
 *    change's cost is measured against the build before it in the same run.
 * Load: wrk -t1 -c50 by default (Debian's package), 100k preloaded keys with 100-byte values, targets
 * alternated round by round so machine noise hits them alike; the median round is reported. Server
 * CPU per request is given for the whole process and for its main thread (the front door) alone.
 *
 * `npm run bench:http -- [OPTIONS]` builds the checkout, then runs it; on a built checkout:
 * Usage: node dist/bench/http-bench.js [--seconds 10] [--rounds 3] [--keys 100000] [--durability fsync]
 *        [--before DIR] [--connections 50] [--json out.json]
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { type Child, defaultLayoutConfig, freePort, startProcess } from './lib/processes.js';
import { runWrk, type WrkResult } from './lib/wrk.js';
import { arg, choice, count, DURABILITIES } from './lib/args.js';
import { requireTools } from './lib/tools.js';
import { median } from './lib/compare-stats.js';

const SECONDS = count('seconds', 10);
const ROUNDS = count('rounds', 3);
const KEYS = count('keys', 100000);
const DURABILITY = choice('durability', 'fsync', DURABILITIES);
const JSON_OUT = arg('json', '');
const BEFORE = arg('before', '');
const PIPELINE_DEPTH = 16;
/** CONNECTIONS is wrk's -c: fewer connections mean fewer requests per event-loop wake-up (docs/performance.md). */
const CONNECTIONS = count('connections', 50);
requireTools(['wrk']);
const VALUE = 'v'.repeat(100);
const PIPED_BASE = `baseline GET /kv/{key} pipelined x${PIPELINE_DEPTH}`;
const PIPED_KV = `distkv GET /kv/{key} pipelined x${PIPELINE_DEPTH}`;

async function preloadPut(base: string): Promise<void> {
  const pool = new Pool(base, { connections: 32, pipelining: 1 });
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < KEYS) {
        const i = next++;
        const r = await pool.request({ path: `/kv/key${i}`, method: 'PUT', body: VALUE });
        await r.body.dump();
        if (r.statusCode >= 300) throw new Error(`preload PUT got ${r.statusCode}`);
      }
    }),
  );
  await pool.close();
}

async function preloadBatch(base: string): Promise<void> {
  const pool = new Pool(base, { connections: 4 });
  const chunk = 1000;
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < KEYS) {
        const start = next;
        next += chunk;
        const ops = [];
        for (let i = start; i < Math.min(KEYS, start + chunk); i++)
          ops.push({ op: 'set', key: `key${i}`, value: VALUE });
        const r = await pool.request({ path: '/kv/_batch', method: 'POST', body: JSON.stringify(ops) });
        const body = (await r.body.json()) as { errors: number };
        if (r.statusCode !== 200 || body.errors > 0) throw new Error(`preload batch failed: ${r.statusCode}`);
      }
    }),
  );
  await pool.close();
}

/** Target is a server process (for its CPU time) and the wrk run that loads it. */
type Target = [pid: number, run: () => WrkResult];

/** cpuMsOf returns the CPU time (user + system, all threads) a process has used, from /proc. */
function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of proc(5), in clock ticks of 10 ms (USER_HZ = 100).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** mainCpuMsOf returns the CPU time of a process's main thread (the front door's), from /proc. */
function mainCpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function summarize(runs: WrkResult[]): WrkResult {
  const mid = [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)]!;
  return { ...mid, p99Ms: median(runs.map((r) => r.p99Ms)) };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'distkv-bench-'));
  const children: Child[] = [];
  try {
    process.stdout.write(
      `# http-bench | node ${process.version} | ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}) | wrk -t1 -c${CONNECTIONS} -d${SECONDS}s x ${ROUNDS} rounds | ${KEYS} keys, 100-byte values | durability ${DURABILITY}\n`,
    );
    // Startup to first served request, empty stores (3 tries, median).
    const startups: number[] = [];
    for (let i = 0; i < 3; i++) {
      const [lp, rp] = [await freePort(), await freePort()];
      const cfg = defaultLayoutConfig(join(dir), lp, rp);
      const c = await startProcess(
        ['bin/distkv.js', 'serve', '--config', cfg, '--data-dir', join(dir, `startup-${i}`)],
        `http://127.0.0.1:${lp}/kv/probe`,
      );
      startups.push(c.startupMs);
      await c.stop();
    }
    const basePort = await freePort();
    const baseline = await startProcess(
      ['dist/bench/baseline/server.js', '--port', String(basePort)],
      `http://127.0.0.1:${basePort}/healthz`,
    );
    children.push(baseline);
    const [lp, rp] = [await freePort(), await freePort()];
    const cfg = defaultLayoutConfig(dir, lp, rp, `[storage]\ndurability = "${DURABILITY}"\n`);
    const distkv = await startProcess(
      ['bin/distkv.js', 'serve', '--config', cfg, '--data-dir', join(dir, 'data')],
      `http://127.0.0.1:${lp}/healthz`,
    );
    children.push(distkv);
    let beforeUrl = '';
    let beforePid = 0;
    if (BEFORE !== '') {
      const [bp, brp] = [await freePort(), await freePort()];
      const bdir = join(dir, 'before');
      mkdirSync(bdir);
      const bcfg = defaultLayoutConfig(bdir, bp, brp, `[storage]\ndurability = "${DURABILITY}"\n`);
      const before = await startProcess(
        [join(BEFORE, 'bin', 'distkv.js'), 'serve', '--config', bcfg, '--data-dir', join(bdir, 'data')],
        `http://127.0.0.1:${bp}/healthz`,
      );
      children.push(before);
      beforeUrl = `http://127.0.0.1:${bp}`;
      beforePid = before.proc.pid!;
    }
    const baseUrl = `http://127.0.0.1:${basePort}`;
    const kvUrl = `http://127.0.0.1:${lp}`;
    let t = performance.now();
    await preloadPut(baseUrl);
    await preloadBatch(kvUrl);
    if (beforeUrl !== '') await preloadBatch(beforeUrl);
    process.stdout.write(`preloaded ${KEYS} keys into each in ${Math.round(performance.now() - t)} ms\n`);

    const env = { KEYS: String(KEYS) };
    const piped = { ...env, DEPTH: String(PIPELINE_DEPTH) };
    const basePid = baseline.proc.pid!;
    const kvPid = distkv.proc.pid!;
    const targets = new Map<string, Target>([
      ['baseline GET /kv/{key}', [basePid, () => runWrk(baseUrl, 'get-kv.lua', SECONDS, CONNECTIONS, env)]],
      ['distkv GET /kv/{key}', [kvPid, () => runWrk(kvUrl, 'get-kv.lua', SECONDS, CONNECTIONS, env)]],
      ['distkv GET /get?key=', [kvPid, () => runWrk(kvUrl, 'get-seed.lua', SECONDS, CONNECTIONS, env)]],
      [PIPED_BASE, [basePid, () => runWrk(baseUrl, 'get-kv-pipelined.lua', SECONDS, CONNECTIONS, piped)]],
      [PIPED_KV, [kvPid, () => runWrk(kvUrl, 'get-kv-pipelined.lua', SECONDS, CONNECTIONS, piped)]],
      ['baseline PUT /kv/{key}', [basePid, () => runWrk(baseUrl, 'put-kv.lua', SECONDS, CONNECTIONS, env)]],
      [
        `distkv PUT /kv/{key} (${DURABILITY})`,
        [kvPid, () => runWrk(kvUrl, 'put-kv.lua', SECONDS, CONNECTIONS, env)],
      ],
    ]);
    if (beforePid !== 0) {
      const run = (script: string) => () => runWrk(beforeUrl, script, SECONDS, CONNECTIONS, env);
      targets.set('before GET /kv/{key}', [beforePid, run('get-kv.lua')]);
      targets.set(`before PUT /kv/{key} (${DURABILITY})`, [beforePid, run('put-kv.lua')]);
    }
    const runs = new Map<string, WrkResult[]>();
    const cpu = new Map<string, number[]>();
    const mainCpu = new Map<string, number[]>();
    const perRound: Map<string, number>[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const names = [...targets.keys()];
      const order = round % 2 === 0 ? names : [...names].reverse();
      perRound.push(new Map());
      for (const name of order) {
        t = performance.now();
        const [pid, run] = targets.get(name)!;
        const cpu0 = cpuMsOf(pid);
        const main0 = mainCpuMsOf(pid);
        const r = run();
        const cpuUs = ((cpuMsOf(pid) - cpu0) * 1000) / Math.max(1, r.rps * SECONDS);
        const mainUs = ((mainCpuMsOf(pid) - main0) * 1000) / Math.max(1, r.rps * SECONDS);
        runs.set(name, [...(runs.get(name) ?? []), r]);
        cpu.set(name, [...(cpu.get(name) ?? []), cpuUs]);
        mainCpu.set(name, [...(mainCpu.get(name) ?? []), mainUs]);
        perRound[round]!.set(name, r.rps);
        process.stdout.write(
          `round ${round + 1} ${name}: ${Math.round(r.rps)} req/s p99 ${r.p99Ms} ms, server CPU ${cpuUs.toFixed(1)} µs/req, main thread ${mainUs.toFixed(1)} (${Math.round(performance.now() - t)} ms)\n`,
        );
      }
    }
    // Ratios are taken within each round (neighbouring runs share the machine's noise), then the median.
    const roundRatio = (a: string, b: string): string => {
      const xs = perRound.map((m) => m.get(a)! / m.get(b)!);
      return `${median(xs).toFixed(2)} (rounds: ${xs.map((x) => x.toFixed(2)).join(' ')})`;
    };
    const results = Object.fromEntries([...runs].map(([k, v]) => [k, summarize(v)]));
    const base = results['baseline GET /kv/{key}']!.rps;
    process.stdout.write(
      '\n| target | req/s | p50 ms | p99 ms | ratio to baseline GET | server CPU µs/req | main thread µs/req | non-2xx | socket errors |\n|---|---|---|---|---|---|---|---|---|\n',
    );
    for (const [name, r] of Object.entries(results)) {
      process.stdout.write(
        `| ${name} | ${Math.round(r.rps)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${(r.rps / base).toFixed(2)} | ${median(cpu.get(name)!).toFixed(1)} | ${median(mainCpu.get(name)!).toFixed(1)} | ${r.non2xx} | ${r.errors} |\n`,
      );
    }
    const kvGet = results['distkv GET /kv/{key}']!.rps;
    const seedGet = results['distkv GET /get?key=']!.rps;
    process.stdout.write(
      `\nGET pipelined x${PIPELINE_DEPTH}, distkv ÷ baseline req/s: ${roundRatio(PIPED_KV, PIPED_BASE)}\n`,
    );
    if (beforePid !== 0) {
      const put = `PUT /kv/{key} (${DURABILITY})`;
      process.stdout.write(
        `after / before, GET: ${roundRatio('distkv GET /kv/{key}', 'before GET /kv/{key}')}\n` +
          `after / before, PUT: ${roundRatio(`distkv ${put}`, `before ${put}`)}\n`,
      );
    }
    process.stdout.write(
      `\nGET /get?key= ÷ GET /kv/{key} req/s (distkv, median rounds): ${(seedGet / kvGet).toFixed(2)}x\nstartup to first served request (empty stores): ${startups.map((s) => Math.round(s)).join(', ')} ms (median ${Math.round(median(startups))})\n`,
    );
    if (JSON_OUT !== '')
      writeFileSync(
        JSON_OUT,
        JSON.stringify(
          {
            results,
            startupsMs: startups,
            seconds: SECONDS,
            rounds: ROUNDS,
            keys: KEYS,
            durability: DURABILITY,
            node: process.version,
            cpus: availableParallelism(),
          },
          null,
          2,
        ),
      );
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
