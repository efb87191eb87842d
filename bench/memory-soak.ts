/**
 * The memory soak: distkv's default layout (4 shards, leaders and replicas in one process) while
 * this process overwrites the same 10k keys with values of 100 B to 900 KiB (log-uniform: every
 * size decade equally likely) for --duration, then leaves it idle for --idle. The server's RSS is
 * sampled every --every seconds from /proc, split into anonymous memory (heap, buffers, arenas)
 * and file-backed pages (LMDB's memory map, which the kernel reclaims under pressure). It prints
 * max RSS against the bound docs/operations.md ("Memory") gives for the settings, and the memory
 * parts each store reports in /stats at the peak.
 *
 * `npm run bench:memory -- [OPTIONS]` builds the checkout, then runs it; on a built checkout:
 * Usage: node dist/bench/memory-soak.js [--duration 600] [--idle 30] [--every 5] [--concurrency 8]
 *        [--durability fsync] [--replicas yes|no] [--json out.json]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { DEFAULTS } from '../src/config/schema.js';
import { memoryBound } from '../src/storage/memory-bound.js';
import { arg, choice, count, DURABILITIES } from './lib/args.js';
import { defaultLayoutConfig, freePort, startProcess } from './lib/processes.js';

const DURATION_S = count('duration', 600);
const IDLE_S = count('idle', 30, 0);
const EVERY_S = count('every', 5);
const CONCURRENCY = count('concurrency', 8);
const DURABILITY = choice('durability', 'fsync', DURABILITIES);
const JSON_OUT = arg('json', '');
/** REPLICAS: --replicas no runs the 4 leaders alone (to tell storage memory from replication memory). */
const REPLICAS = choice('replicas', 'yes', ['yes', 'no']) === 'yes';
const KEYS = 10_000;
const MIN_VALUE = 100;
const MAX_VALUE = 900 * 1024;
/** STORES: the default layout hosts 4 leader and 4 replica stores in the server process. */
const STORES = REPLICAS ? 8 : 4;
const MB = 1024 * 1024;

interface Sample {
  s: number;
  phase: 'load' | 'idle';
  rssMb: number;
  anonMb: number;
  fileMb: number;
}

function procStatus(pid: number): { rssMb: number; anonMb: number; fileMb: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1] ?? NaN);
  return {
    rssMb: kb('VmRSS') / 1024,
    anonMb: kb('RssAnon') / 1024,
    fileMb: (kb('RssFile') + kb('RssShmem')) / 1024,
  };
}

/** logUniformSize draws a value size between MIN_VALUE and MAX_VALUE, every decade equally likely. */
function logUniformSize(): number {
  return Math.round(MIN_VALUE * Math.exp(Math.random() * Math.log(MAX_VALUE / MIN_VALUE)));
}

/** memoryParts picks each store's memory fields (and LMDB's file size, what its map can make resident) out of /stats, summed over the stores. */
async function memoryParts(base: string): Promise<Record<string, number>> {
  const stats = (await (await fetch(`${base}/stats`)).json()) as { stores: Record<string, unknown>[] };
  const sums: Record<string, number> = {};
  for (const st of stats.stores)
    for (const [k, v] of Object.entries(st))
      if ((/^mem[A-Z]/.test(k) || k === 'lmdbBytes') && typeof v === 'number') sums[k] = (sums[k] ?? 0) + v;
  return sums;
}

const dir = mkdtempSync(join(tmpdir(), 'distkv-memory-soak-'));
try {
  const [lp, rp] = [await freePort(), await freePort()];
  const extra = `[storage]\ndurability = "${DURABILITY}"\n`;
  const cfg = REPLICAS ? defaultLayoutConfig(dir, lp, rp, extra) : leadersOnlyConfig(dir, lp, extra);
  const server = await startProcess(
    ['bin/distkv.js', 'serve', '--config', cfg, '--data-dir', join(dir, 'data')],
    `http://127.0.0.1:${lp}/healthz`,
  );
  const pid = server.proc.pid!;
  const base = `http://127.0.0.1:${lp}`;
  const bound = memoryBound({
    stores: STORES,
    memtableBytes: DEFAULTS.storage.memtable_bytes,
    ringBytes: DEFAULTS.replication.ring_bytes,
    blockCacheBytes: DEFAULTS.storage.block_cache_bytes,
    maxValueBytes: DEFAULTS.server.max_value_bytes,
    inFlightWrites: CONCURRENCY,
  });
  process.stdout.write(
    `# memory soak | node ${process.version} | ${availableParallelism()} CPUs | ${DURATION_S} s load + ${IDLE_S} s idle | ${KEYS} keys, values ${MIN_VALUE} B..${MAX_VALUE / 1024} KiB log-uniform | concurrency ${CONCURRENCY} | durability ${DURABILITY} | ${STORES} stores | bound ${Math.round(bound.totalBytes / MB)} MB anonymous (${bound.formula})\n`,
  );

  await new Promise((r) => setTimeout(r, 2000));
  const start = procStatus(pid);
  process.stdout.write(
    `t=0s idle start rss=${Math.round(start.rssMb)} MB (anon ${Math.round(start.anonMb)}, file ${Math.round(start.fileMb)})\n`,
  );
  const pool = new Pool(base, { connections: CONCURRENCY });
  const pattern = Buffer.alloc(MAX_VALUE);
  for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 131 + (i >>> 10)) & 0xff;
  let writes = 0;
  let bytes = 0;
  let errors = 0;
  const t0 = Date.now();
  const loadEnd = t0 + DURATION_S * 1000;
  const loops = Array.from({ length: CONCURRENCY }, async () => {
    while (Date.now() < loadEnd) {
      const size = logUniformSize();
      const key = `k${Math.floor(Math.random() * KEYS)}`;
      try {
        const r = await pool.request({ method: 'PUT', path: `/kv/${key}`, body: pattern.subarray(0, size) });
        await r.body.dump();
        if (r.statusCode === 204) {
          writes++;
          bytes += size;
        } else errors++;
      } catch {
        errors++;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });

  const samples: Sample[] = [];
  let peak: { rssMb: number; parts: Record<string, number> } = { rssMb: 0, parts: {} };
  const end = loadEnd + IDLE_S * 1000;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, EVERY_S * 1000));
    const now = Date.now();
    const p = procStatus(pid);
    const phase = now <= loadEnd ? 'load' : 'idle';
    samples.push({ s: Math.round((now - t0) / 1000), phase, ...p });
    const parts = await memoryParts(base).catch(() => ({}));
    if (p.rssMb > peak.rssMb) peak = { rssMb: p.rssMb, parts };
    process.stdout.write(
      `t=${Math.round((now - t0) / 1000)}s ${phase} rss=${Math.round(p.rssMb)} MB (anon ${Math.round(p.anonMb)}, file ${Math.round(p.fileMb)}) writes=${writes} (${Math.round(bytes / MB)} MB) errors=${errors}\n`,
    );
  }
  await Promise.all(loops);
  await pool.close();
  const final = await memoryParts(base);
  await server.stop();

  const max = (f: (s: Sample) => number): number => Math.round(Math.max(...samples.map(f)));
  const boundMb = Math.round(bound.totalBytes / MB);
  const idle = samples.filter((s) => s.phase === 'idle');
  const lastIdle = idle[idle.length - 1];
  process.stdout.write(
    `RSS at start ${Math.round(start.rssMb)} MB (anonymous ${Math.round(start.anonMb)} MB)\n` +
      `max RSS ${max((s) => s.rssMb)} MB (anonymous ${max((s) => s.anonMb)} MB, file-backed ${max((s) => s.fileMb)} MB); bound ${boundMb} MB anonymous: ${max((s) => s.anonMb) <= boundMb ? 'within' : 'OVER'}\n` +
      `after ${IDLE_S} s idle: RSS ${Math.round(lastIdle?.rssMb ?? NaN)} MB (anonymous ${Math.round(lastIdle?.anonMb ?? NaN)} MB)\n` +
      `${writes} writes, ${Math.round(bytes / MB)} MB, ${errors} errors in ${DURATION_S} s\n` +
      `memory parts at the RSS peak (MB, summed over stores): ${JSON.stringify(mb(peak.parts))}\n` +
      `memory parts at the end: ${JSON.stringify(mb(final))}\n`,
  );
  if (JSON_OUT !== '')
    writeFileSync(
      JSON_OUT,
      JSON.stringify(
        { durationS: DURATION_S, idleS: IDLE_S, bound, writes, bytes, errors, samples, peak, final },
        null,
        2,
      ),
    );
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** leadersOnlyConfig writes the default layout without replicas. */
function leadersOnlyConfig(at: string, port: number, extra: string): string {
  const path = join(at, 'leaders.toml');
  const shards = [0, 1, 2, 3].map(
    (i) => `[[shards]]\nname = "shard-${i}"\nidx = ${i}\naddress = "127.0.0.1:${port}"\n`,
  );
  writeFileSync(path, `${shards.join('\n')}\n${extra}\n`);
  return path;
}

function mb(parts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, Math.round((v / MB) * 10) / 10]));
}
