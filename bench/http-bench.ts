/**
 * The HTTP figures of the backbone, measured in one run on one machine (docs/performance.md):
 *  - GET /kv/{key} on distkv's default layout vs the bare uWS+Map baseline (ratio, p99);
 *  - the same with 16 requests pipelined per connection (bench/wrk/get-kv-pipelined.lua);
 *  - GET /get?key= (seed endpoint) vs GET /kv/{key};
 *  - PUT /kv/{key} acknowledged writes/s in the configured durability mode;
 *  - startup to first served request with empty stores;
 *  - with `--before DIR` (another checkout, built), plain GET and PUT on its distkv too, so a
 *    change's cost is measured against the build before it in the same run.
 * Load: wrk -t1 -c50 (Debian's package), 100k preloaded keys with 100-byte values, targets
 * alternated round by round so machine noise hits them alike; the median round is reported.
 *
 * Usage: node dist/bench/http-bench.js [--seconds 10] [--rounds 3] [--keys 100000] [--durability fsync]
 *        [--before DIR] [--json out.json]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { type Child, defaultLayoutConfig, freePort, startProcess } from './lib/processes.js';
import { hasWrk, runWrk, type WrkResult } from './lib/wrk.js';
import { arg } from './lib/args.js';

const SECONDS = Number(arg('seconds', '10'));
const ROUNDS = Number(arg('rounds', '3'));
const KEYS = Number(arg('keys', '100000'));
const DURABILITY = arg('durability', 'fsync');
const JSON_OUT = arg('json', '');
const BEFORE = arg('before', '');
const PIPELINE_DEPTH = 16;
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

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function summarize(runs: WrkResult[]): WrkResult {
  const mid = [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)]!;
  return { ...mid, p99Ms: median(runs.map((r) => r.p99Ms)) };
}

async function main(): Promise<void> {
  if (!hasWrk()) {
    process.stderr.write('http-bench: wrk is not installed (Debian: apt-get install wrk)\n');
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'distkv-bench-'));
  const children: Child[] = [];
  try {
    process.stdout.write(
      `# http-bench | node ${process.version} | ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}) | wrk -t1 -c50 -d${SECONDS}s x ${ROUNDS} rounds | ${KEYS} keys, 100-byte values | durability ${DURABILITY}\n`,
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
    const targets = new Map<string, () => WrkResult>([
      ['baseline GET /kv/{key}', () => runWrk(baseUrl, 'get-kv.lua', SECONDS, 50, env)],
      ['distkv GET /kv/{key}', () => runWrk(kvUrl, 'get-kv.lua', SECONDS, 50, env)],
      ['distkv GET /get?key=', () => runWrk(kvUrl, 'get-seed.lua', SECONDS, 50, env)],
      [PIPED_BASE, () => runWrk(baseUrl, 'get-kv-pipelined.lua', SECONDS, 50, piped)],
      [PIPED_KV, () => runWrk(kvUrl, 'get-kv-pipelined.lua', SECONDS, 50, piped)],
      ['baseline PUT /kv/{key}', () => runWrk(baseUrl, 'put-kv.lua', SECONDS, 50, env)],
      [`distkv PUT /kv/{key} (${DURABILITY})`, () => runWrk(kvUrl, 'put-kv.lua', SECONDS, 50, env)],
    ]);
    if (beforeUrl !== '') {
      targets.set('before GET /kv/{key}', () => runWrk(beforeUrl, 'get-kv.lua', SECONDS, 50, env));
      targets.set(`before PUT /kv/{key} (${DURABILITY})`, () =>
        runWrk(beforeUrl, 'put-kv.lua', SECONDS, 50, env),
      );
    }
    const runs = new Map<string, WrkResult[]>();
    for (let round = 0; round < ROUNDS; round++) {
      const names = [...targets.keys()];
      const order = round % 2 === 0 ? names : [...names].reverse();
      for (const name of order) {
        t = performance.now();
        const r = targets.get(name)!();
        runs.set(name, [...(runs.get(name) ?? []), r]);
        process.stdout.write(
          `round ${round + 1} ${name}: ${Math.round(r.rps)} req/s p99 ${r.p99Ms} ms (${Math.round(performance.now() - t)} ms)\n`,
        );
      }
    }
    const results = Object.fromEntries([...runs].map(([k, v]) => [k, summarize(v)]));
    const base = results['baseline GET /kv/{key}']!.rps;
    process.stdout.write(
      '\n| target | req/s | p50 ms | p99 ms | ratio to baseline GET | non-2xx | socket errors |\n|---|---|---|---|---|---|---|\n',
    );
    for (const [name, r] of Object.entries(results)) {
      process.stdout.write(
        `| ${name} | ${Math.round(r.rps)} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${(r.rps / base).toFixed(2)} | ${r.non2xx} | ${r.errors} |\n`,
      );
    }
    const kvGet = results['distkv GET /kv/{key}']!.rps;
    const seedGet = results['distkv GET /get?key=']!.rps;
    const pipedRatio = results[PIPED_KV]!.rps / results[PIPED_BASE]!.rps;
    process.stdout.write(`\nGET pipelined x${PIPELINE_DEPTH}, distkv / baseline: ${pipedRatio.toFixed(2)}\n`);
    if (beforeUrl !== '') {
      const put = `/kv/{key} (${DURABILITY})`;
      const ratio = (what: string, after: string): string =>
        (results[after]!.rps / results[`before ${what}`]!.rps).toFixed(2);
      process.stdout.write(
        `after / before: GET ${ratio('GET /kv/{key}', 'distkv GET /kv/{key}')}, PUT ${ratio(`PUT ${put}`, `distkv PUT ${put}`)}\n`,
      );
    }
    process.stdout.write(
      `\nGET /get vs GET /kv: ${((seedGet / kvGet - 1) * 100).toFixed(1)}%\nstartup to first served request (empty stores): ${startups.map((s) => Math.round(s)).join(', ')} ms (median ${Math.round(median(startups))})\n`,
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
