/**
 * `npm run bench:compare`: the same workload, driven by distkv's load generator, against
 *  (a) the bare uWS+Map baseline, (b) distkv's default cluster (4 shards + replicas) in each
 *  durability mode (and fsync with `--inline`), (c) redis-server with appendfsync always and everysec (skipped, with a message,
 *  when it is not installed), (d) etcd when installed (its API is gRPC/JSON, which the load
 *  generator does not speak: reported as skipped).
 * Targets are alternated round by round (reversed every other round) so machine noise hits them
 * alike; the median round is reported. It also measures the load generator's own ceiling against
 * the baseline next to wrk's, so a reader can see whether the generator limited the figures.
 * The table is printed and written into docs/performance.md between the bench:compare markers.
 *
 * Usage: node dist/bench/compare.js [--seconds 10] [--rounds 2] [--keys 100000] [--connections 50]
 *        [--mix get:90,set:10] [--dist zipf:0.99] [--no-write]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LOAD, type LoadOptions, type LoadResult, runLoad } from '../src/loadgen/loadgen.js';
import { arg } from './lib/args.js';
import { type Child, defaultLayoutConfig, freePort, ROOT, startProcess } from './lib/processes.js';
import { hasRedis, startRedis } from './lib/redis.js';
import { hasWrk, runWrk } from './lib/wrk.js';

const SECONDS = Number(arg('seconds', '10'));
const ROUNDS = Number(arg('rounds', '2'));
const KEYS = Number(arg('keys', '100000'));
const CONNS = Number(arg('connections', '50'));
const MIX = arg('mix', 'get:90,set:10');
const DIST = arg('dist', 'zipf:0.99');
const WRITE = !process.argv.includes('--no-write');
const DOC = join(ROOT, 'docs', 'performance.md');
const START = '<!-- bench:compare start -->';
const END = '<!-- bench:compare end -->';

interface Target {
  name: string;
  url: string;
  child: Child;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

const load = (url: string, extra: Partial<LoadOptions> = {}): Promise<LoadResult> =>
  runLoad({
    ...DEFAULT_LOAD,
    url,
    mix: MIX,
    keys: KEYS,
    dist: DIST,
    valueSize: 100,
    concurrency: CONNS,
    durationS: SECONDS,
    warmupS: 2,
    threads: 1,
    preload: false,
    ...extra,
  });

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'distkv-compare-'));
  const targets: Target[] = [];
  const notes: string[] = [];
  const header = `node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}); load generator: 1 thread, ${CONNS} connections, mix ${MIX}, ${KEYS} keys ${DIST}, 100-byte values, ${SECONDS} s after 2 s warm-up, ${ROUNDS} rounds alternated, median round`;
  process.stdout.write(`# bench:compare | ${header}\n`);
  try {
    const basePort = await freePort();
    targets.push({
      name: 'baseline (uWS + Map)',
      url: `http://127.0.0.1:${basePort}`,
      child: await startProcess(
        ['dist/bench/baseline/server.js', '--port', String(basePort)],
        `http://127.0.0.1:${basePort}/healthz`,
      ),
    });
    // The three durability modes, and fsync once more with the stores on the main thread (--inline).
    const modes: [string, boolean][] = [
      ['fsync', false],
      ['interval', false],
      ['none', false],
      ['fsync', true],
    ];
    for (const [durability, inline] of modes) {
      const [lp, rp] = [await freePort(), await freePort()];
      const sub = join(dir, `${durability}${inline ? '-inline' : ''}`);
      mkdirSync(sub);
      const cfg = defaultLayoutConfig(sub, lp, rp, `[storage]\ndurability = "${durability}"\n`);
      targets.push({
        name: `distkv default cluster, durability ${durability}${inline ? ', --inline' : ''}`,
        url: `http://127.0.0.1:${lp}`,
        child: await startProcess(
          [
            'bin/distkv.js',
            'serve',
            '--config',
            cfg,
            '--data-dir',
            join(sub, 'data'),
            ...(inline ? ['--inline'] : []),
          ],
          `http://127.0.0.1:${lp}/healthz`,
        ),
      });
    }
    if (hasRedis()) {
      for (const policy of ['always', 'everysec']) {
        const port = await freePort();
        mkdirSync(join(dir, `redis-${policy}`));
        targets.push({
          name: `redis-server, appendfsync ${policy}`,
          url: `redis://127.0.0.1:${port}`,
          child: await startRedis(port, policy, join(dir, `redis-${policy}`)),
        });
      }
    } else
      notes.push('redis-server is not installed (Debian: apt-get install redis-server): redis rows skipped.');
    if (spawnSync('etcd', ['--version']).error === undefined)
      notes.push(
        'etcd is installed but speaks gRPC/JSON, which the load generator does not: etcd row skipped.',
      );
    else notes.push('etcd is not installed: etcd row skipped.');

    for (const t of targets) {
      const r = await load(t.url, { preload: true, durationS: 0.001, warmupS: 0, requests: 1 });
      process.stdout.write(
        `preloaded ${KEYS} keys into ${t.name} in ${r.preload?.seconds.toFixed(1) ?? '?'} s\n`,
      );
    }

    const runs = new Map<string, LoadResult[]>();
    const ceiling: { wrk: number[]; loadgen: number[] } = { wrk: [], loadgen: [] };
    const baseUrl = targets[0]!.url;
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) {
        const r = await load(t.url);
        runs.set(t.name, [...(runs.get(t.name) ?? []), r]);
        process.stdout.write(
          `round ${round + 1} ${t.name}: ${Math.round(r.throughput)} ops/s p99 ${(r.latency.p99_us / 1000).toFixed(2)} ms, errors ${r.errors}\n`,
        );
      }
      // The generator's own ceiling: GET-only on the baseline, wrk vs the load generator, same connections.
      if (hasWrk()) {
        const w = runWrk(baseUrl, 'get-kv.lua', Math.min(SECONDS, 5), CONNS, { KEYS: String(KEYS) });
        const l = await load(baseUrl, {
          mix: 'get:100',
          dist: 'uniform',
          durationS: Math.min(SECONDS, 5),
          warmupS: 1,
        });
        ceiling.wrk.push(w.rps);
        ceiling.loadgen.push(l.throughput);
        process.stdout.write(
          `round ${round + 1} ceiling on the baseline, GET: wrk ${Math.round(w.rps)}/s, load generator ${Math.round(l.throughput)}/s\n`,
        );
      }
    }

    const pick = (name: string): LoadResult => {
      const rs = runs.get(name)!;
      const m = median(rs.map((r) => r.throughput));
      return rs.find((r) => r.throughput === m)!;
    };
    const base = pick(targets[0]!.name).throughput;
    const lines = [
      `Measured by \`npm run bench:compare\` (${new Date().toISOString().slice(0, 10)}): ${header}.`,
      '',
      '| target | ops/s | p50 ms | p99 ms | errors | ratio to baseline |',
      '|---|---|---|---|---|---|',
      ...targets.map((t) => {
        const r = pick(t.name);
        return `| ${t.name} | ${Math.round(r.throughput)} | ${(r.latency.p50_us / 1000).toFixed(2)} | ${(r.latency.p99_us / 1000).toFixed(2)} | ${r.errors} | ${(r.throughput / base).toFixed(2)} |`;
      }),
      '',
    ];
    const ratio = (a: string, b: string): string => {
      if (!runs.has(a) || !runs.has(b)) return 'n/a';
      return (pick(a).throughput / pick(b).throughput).toFixed(2);
    };
    lines.push(
      `- distkv (durability interval, the everysec equivalent) vs redis everysec: ${ratio('distkv default cluster, durability interval', 'redis-server, appendfsync everysec')}x`,
      `- distkv (durability fsync) vs redis appendfsync always: ${ratio('distkv default cluster, durability fsync', 'redis-server, appendfsync always')}x`,
    );
    if (ceiling.wrk.length > 0) {
      const w = median(ceiling.wrk);
      const l = median(ceiling.loadgen);
      lines.push(
        `- Load generator ceiling, GET on the baseline: ${Math.round(l)}/s vs wrk -t1 ${Math.round(w)}/s = ${(l / w).toFixed(2)}x (rounds: ${ceiling.loadgen.map(Math.round).join(', ')} vs ${ceiling.wrk.map(Math.round).join(', ')}).`,
      );
    }
    for (const n of notes) lines.push(`- ${n}`);
    const table = lines.join('\n');
    process.stdout.write(`\n${table}\n`);
    if (WRITE) {
      const doc = readFileSync(DOC, 'utf8');
      const block = `${START}\n${table}\n${END}`;
      const i = doc.indexOf(START);
      const j = doc.indexOf(END);
      writeFileSync(
        DOC,
        i >= 0 && j > i
          ? doc.slice(0, i) + block + doc.slice(j + END.length)
          : `${doc.trimEnd()}\n\n## Same-run comparison (bench:compare)\n\n${block}\n`,
      );
      process.stdout.write(`\nwritten to docs/performance.md\n`);
    }
  } finally {
    await Promise.all(targets.map((t) => t.child.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
