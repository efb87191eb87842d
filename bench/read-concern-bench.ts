/**
 * The cost of a read concern (docs/api.md, "Write concern and what reads see"): GET /kv/{key}
 * plain (the fast path), with `?w=0` (the general path, no wait: what leaving the fast path costs)
 * and with `?w=1` (the leader waits until a replica holds its last seq), on one key set, on
 * distkv's default layout (4 shards, replicas in the same process, one worker). Two loads: reads
 * alone (the replicas hold everything: no wait), and reads while a writer keeps PUTting
 * (`--writers` requests in flight: each w=1 read then waits for the replica's ack of the latest
 * write). Server in its own process, load from wrk -t1; targets alternated round by round, the
 * median round reported, with each as a ratio to plain GET in the same round.
 *
 * Usage: node dist/bench/read-concern-bench.js [--seconds 5] [--rounds 3] [--keys 20000]
 *        [--connections 50] [--writers 4] [--durability fsync]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { choice, count, DURABILITIES } from './lib/args.js';
import { median } from './lib/compare-stats.js';
import { defaultLayoutConfig, freePort, startProcess } from './lib/processes.js';
import { hasWrk, runWrk, type WrkResult } from './lib/wrk.js';

const SECONDS = count('seconds', 5);
const ROUNDS = count('rounds', 3);
const KEYS = count('keys', 20000);
const CONNECTIONS = count('connections', 50);
const WRITERS = count('writers', 4);
const DURABILITY = choice('durability', 'fsync', DURABILITIES);
const VALUE = 'v'.repeat(100);
const TARGETS = [
  ['plain GET', ''],
  ['GET ?w=0', '?w=0'],
  ['GET ?w=1', '?w=1'],
] as const;

/** preload PUTs key0..key<KEYS-1>, 100-byte values. */
async function preload(pool: Pool): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < KEYS) {
        const r = await pool.request({ path: `/kv/key${next++}`, method: 'PUT', body: VALUE });
        await r.body.dump();
        if (r.statusCode >= 300) throw new Error(`preload PUT got ${r.statusCode}`);
      }
    }),
  );
}

/** writeWhile keeps `WRITERS` PUTs in flight until `stop` is set; resolves with how many were answered. */
async function writeWhile(pool: Pool, stop: { done: boolean }): Promise<number> {
  let n = 0;
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      while (!stop.done) {
        try {
          const r = await pool.request({
            path: `/kv/key${Math.floor(Math.random() * KEYS)}`,
            method: 'PUT',
            body: VALUE,
          });
          await r.body.dump();
          n++;
        } catch {
          // A kept-alive connection the server closed while idle between rounds: the next one reconnects.
        }
      }
    }),
  );
  return n;
}

/** round runs every target once (in an order that rotates per round), with writers when `writing`. */
async function round(base: string, pool: Pool, i: number, writing: boolean): Promise<Map<string, WrkResult>> {
  const out = new Map<string, WrkResult>();
  for (let k = 0; k < TARGETS.length; k++) {
    const [name, query] = TARGETS[(i + k) % TARGETS.length]!;
    const stop = { done: false };
    const writes = writing ? writeWhile(pool, stop) : Promise.resolve(0);
    out.set(
      name,
      runWrk(`${base}/`, 'get-kv-query.lua', SECONDS, CONNECTIONS, { KEYS: String(KEYS), QUERY: query }),
    );
    stop.done = true;
    await writes;
  }
  return out;
}

async function main(): Promise<void> {
  if (!hasWrk()) {
    process.stderr.write('read-concern-bench: wrk is not installed (Debian: apt-get install wrk)\n');
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'distkv-rc-bench-'));
  try {
    process.stdout.write(
      `# read-concern-bench | node ${process.version} | ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}) | wrk -t1 -c${CONNECTIONS} -d${SECONDS}s x ${ROUNDS} rounds | ${KEYS} keys, 100-byte values | durability ${DURABILITY} | default layout, 1 worker\n`,
    );
    const [lp, rp] = [await freePort(), await freePort()];
    const cfg = defaultLayoutConfig(dir, lp, rp, `[storage]\ndurability = "${DURABILITY}"\n`);
    const server = await startProcess(
      ['bin/distkv.js', 'serve', '--config', cfg, '--data-dir', join(dir, 'data'), '--workers', '1'],
      `http://127.0.0.1:${lp}/healthz`,
    );
    const base = `http://127.0.0.1:${lp}`;
    const pool = new Pool(base, { connections: 32 });
    try {
      await preload(pool);
      for (const writing of [false, true]) {
        const rounds: Map<string, WrkResult>[] = [];
        for (let i = 0; i < ROUNDS; i++) rounds.push(await round(base, pool, i, writing));
        process.stdout.write(
          `\n## ${writing ? `reads while ${WRITERS} PUTs are in flight` : 'reads alone'}\n| target | req/s (median) | vs plain GET | p50 ms | p99 ms | non-2xx |\n|---|---|---|---|---|---|\n`,
        );
        const plain = median(rounds.map((r) => r.get('plain GET')!.rps));
        for (const [name] of TARGETS) {
          const rs = rounds.map((r) => r.get(name)!);
          const rps = median(rs.map((r) => r.rps));
          process.stdout.write(
            `| ${name} | ${rps.toFixed(0)} | ${(rps / plain).toFixed(2)} | ${median(rs.map((r) => r.p50Ms)).toFixed(2)} | ${median(rs.map((r) => r.p99Ms)).toFixed(2)} | ${rs.reduce((a, r) => a + r.non2xx, 0)} |\n`,
          );
        }
      }
    } finally {
      await pool.close();
      await server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
