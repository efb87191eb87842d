/**
 * The write soak: distkv's default layout under `wrk -t1 -c50` PUTs of 100-byte values over a 10M
 * key space for --seconds (default 600), sampling the server's RSS every 10 s and at the end. It prints the curve
 * and the bound the design sets: memtable limits + 150 MB, where the memtable limit of a store is
 * memtable_bytes for the active memtable plus MAX_FROZEN frozen ones waiting to flush.
 *
 * `npm run bench:soak -- [OPTIONS]` builds the checkout, then runs it; on a built checkout:
 * Usage: node dist/bench/soak.js [--seconds 600] [--durability fsync] [--json out.json]
 */
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_FROZEN } from '../src/storage/flush-queue.js';
import { DEFAULTS } from '../src/config/schema.js';
import { defaultLayoutConfig, freePort, ROOT, startProcess } from './lib/processes.js';
import { arg, choice, count, DURABILITIES } from './lib/args.js';
import { requireTools } from './lib/tools.js';

const SECONDS = count('seconds', 600);
const DURABILITY = choice('durability', 'fsync', DURABILITIES);
const JSON_OUT = arg('json', '');
requireTools(['wrk']);

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const dir = mkdtempSync(join(tmpdir(), 'distkv-soak-'));
try {
  const [lp, rp] = [await freePort(), await freePort()];
  const cfg = defaultLayoutConfig(dir, lp, rp, `[storage]\ndurability = "${DURABILITY}"\n`);
  const server = await startProcess(
    ['bin/distkv.js', 'serve', '--config', cfg, '--data-dir', join(dir, 'data')],
    `http://127.0.0.1:${lp}/healthz`,
  );
  const pid = server.proc.pid!;
  const leaders = 4;
  const limitMb = (leaders * DEFAULTS.storage.memtable_bytes * (1 + MAX_FROZEN)) / 1048576 + 150;
  process.stdout.write(
    `# soak | node ${process.version} | ${availableParallelism()} CPUs | ${SECONDS} s | durability ${DURABILITY} | bound ${Math.round(limitMb)} MB (4 leader stores x 64 MiB x ${1 + MAX_FROZEN} + 150 MB)\n`,
  );
  const wrk = spawn(
    'wrk',
    [
      '-t1',
      '-c50',
      `-d${SECONDS}s`,
      '-s',
      join(ROOT, 'bench', 'wrk', 'put-kv.lua'),
      `http://127.0.0.1:${lp}`,
    ],
    { env: { ...process.env, KEYS: '10000000' }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let wrkOut = '';
  wrk.stdout.setEncoding('utf8').on('data', (d: string) => (wrkOut += d));
  const samples: { s: number; rssMb: number }[] = [];
  const t0 = Date.now();
  const sample = (): void => {
    const s = Math.round((Date.now() - t0) / 1000);
    const r = rssMb(pid);
    samples.push({ s, rssMb: Math.round(r) });
    process.stdout.write(`t=${s}s rss=${Math.round(r)} MB\n`);
  };
  const timer = setInterval(sample, 10000);
  await new Promise((resolve) => wrk.on('exit', resolve));
  clearInterval(timer);
  // One more at the end of the load: a run shorter than 10 s has no other (its max was -Infinity,
  // reported "within" the bound).
  sample();
  const stats = (await (await fetch(`http://127.0.0.1:${lp}/stats`)).json()) as {
    stores: Record<string, unknown>[];
  };
  await server.stop();
  const max = Math.max(...samples.map((x) => x.rssMb));
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(wrkOut)?.[1] ?? NaN);
  process.stdout.write(
    `max RSS ${max} MB (bound ${Math.round(limitMb)} MB): ${max <= limitMb ? 'within' : 'OVER'}; ${Math.round(rps)} writes/s\n`,
  );
  const leaderStats = stats.stores
    .filter((s) => s.role === 'leader')
    .map((s) => ({
      name: s.name,
      lastSeq: s.lastSeq,
      runs: s.runs,
      compactions: s.compactions,
      lmdbKeys: s.lmdbKeys,
      writeStalls: s.writeStalls,
    }));
  process.stdout.write(`${JSON.stringify(leaderStats)}\n`);
  if (JSON_OUT !== '')
    writeFileSync(
      JSON_OUT,
      JSON.stringify(
        {
          seconds: SECONDS,
          durability: DURABILITY,
          boundMb: limitMb,
          maxRssMb: max,
          writesPerS: rps,
          samples,
          leaderStats,
        },
        null,
        2,
      ),
    );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
