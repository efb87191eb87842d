/**
 * `npm run bench:cas`: compare-and-set throughput under contention (docs/performance.md, "CAS").
 *
 * distkv runs in its own process in the default layout (4 shards, leaders and their replicas in
 * one process, durability fsync). This process drives `--clients` concurrent loops, each a
 * read-modify-write of a counter: `GET /kv/K` (value and ETag), then `PUT /kv/K` with value + 1.
 *   cas    the PUT carries `If-Match: <ETag>`: 204 is a successful CAS, 412 a conflict (retry)
 *   blind  the same two requests without If-Match (the baseline: lost updates, no conflicts)
 * on 1 key (every client on one counter) and on 1,000 keys (chosen at random per attempt). Each
 * round runs the four workloads for `--seconds`, in an order reversed every other round; reported
 * are the medians over rounds of: successful CAS/s, attempts/s, conflict rate, and the ratio of
 * CAS attempts/s to blind read-modify-writes/s measured in the same round. The table is printed;
 * with `--doc` it is also written into docs/performance.md between the bench:cas markers (without
 * it a run leaves the doc alone).
 *
 * Usage: node dist/bench/cas-bench.js [--rounds 3] [--seconds 5] [--clients 32] [--doc]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { count, flag } from './lib/args.js';
import { writeDocBlock } from './lib/doc-block.js';
import { defaultLayoutConfig, freePort, startProcess } from './lib/processes.js';
import { median } from './lib/compare-stats.js';

const ROUNDS = count('rounds', 3);
const SECONDS = count('seconds', 5);
const CLIENTS = count('clients', 32);

type Mode = 'cas' | 'blind';
interface Result {
  ok: number;
  conflicts: number;
  seconds: number;
}

/** load runs CLIENTS loops of read-modify-write on `keys` counters for SECONDS. */
async function load(pool: Pool, mode: Mode, keys: number, prefix: string): Promise<Result> {
  const deadline = performance.now() + SECONDS * 1000;
  let ok = 0;
  let conflicts = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < deadline) {
        const path = `/kv/${prefix}${Math.floor(Math.random() * keys)}`;
        const got = await pool.request({ path, method: 'GET' });
        const text = await got.body.text();
        const etag = got.headers.etag;
        const next = String((got.statusCode === 200 ? Number(text) : 0) + 1);
        const headers: Record<string, string> =
          mode === 'blind' ? {} : typeof etag === 'string' ? { 'if-match': etag } : { 'if-none-match': '*' };
        const put = await pool.request({ path, method: 'PUT', body: next, headers });
        await put.body.arrayBuffer();
        if (put.statusCode === 204) ok++;
        else if (put.statusCode === 412) conflicts++;
        else throw new Error(`PUT ${path} answered ${put.statusCode}`);
      }
    }),
  );
  return { ok, conflicts, seconds: (performance.now() - t0) / 1000 };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'distkv-cas-bench-'));
  const [leaderPort, replicaPort] = [await freePort(), await freePort()];
  const config = defaultLayoutConfig(dir, leaderPort, replicaPort);
  const leader = `127.0.0.1:${leaderPort}`;
  const server = await startProcess(
    ['bin/distkv.js', 'serve', '--config', config, '--data-dir', join(dir, 'data')],
    `http://${leader}/healthz`,
  );
  const pool = new Pool(`http://${leader}`, { connections: CLIENTS, pipelining: 1 });
  const header = `node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}), ${CLIENTS} clients, ${SECONDS} s per workload, ${ROUNDS} rounds; default layout (4 shards + replicas in one process, fsync)`;
  console.log(header);
  const workloads: [Mode, number][] = [
    ['cas', 1],
    ['blind', 1],
    ['cas', 1000],
    ['blind', 1000],
  ];
  const per = new Map<string, Result[]>();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? workloads : [...workloads].reverse();
      for (const [mode, keys] of order) {
        const r = await load(pool, mode, keys, `r${round}-${mode}-${keys}-`);
        const name = `${mode}/${keys}`;
        per.set(name, [...(per.get(name) ?? []), r]);
        console.log(
          `round ${round + 1} ${name}: ${(r.ok / r.seconds).toFixed(0)} ok/s, ${((r.ok + r.conflicts) / r.seconds).toFixed(0)} attempts/s, ${r.conflicts} conflicts`,
        );
      }
    }
  } finally {
    await pool.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = [1, 1000].map((keys) => {
    const cas = per.get(`cas/${keys}`)!;
    const blind = per.get(`blind/${keys}`)!;
    const ratios = cas.map((c, i) => (c.ok + c.conflicts) / c.seconds / (blind[i]!.ok / blind[i]!.seconds));
    const okPerS = median(cas.map((c) => c.ok / c.seconds));
    const attempts = median(cas.map((c) => (c.ok + c.conflicts) / c.seconds));
    const conflictRate = median(cas.map((c) => c.conflicts / Math.max(1, c.ok + c.conflicts)));
    return `| ${keys === 1 ? '1 key' : '1,000 keys'} | ${okPerS.toFixed(0)} | ${attempts.toFixed(0)} | ${(conflictRate * 100).toFixed(0)} % | ${median(ratios).toFixed(2)} |`;
  });
  const table = [
    `Measured with \`npm run bench:cas -- --rounds ${ROUNDS} --seconds ${SECONDS} --clients ${CLIENTS}\` (${header}; the machine was shared).`,
    '',
    '| counters | successful CAS/s | CAS attempts/s | conflicts | attempts ÷ blind read-modify-writes (same round) |',
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  console.log(table);
  if (flag('doc')) {
    writeDocBlock('cas', table);
    console.log('\nwritten to docs/performance.md');
  }
}

await main();
