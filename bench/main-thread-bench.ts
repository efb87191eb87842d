/**
 * `node dist/bench/main-thread-bench.js --before DIR`: the front door's main-thread CPU per request,
 * this checkout against another build, under `wrk -t1 -c50` PUT and GET on the default layout
 * (4 shards, replicas, durability fsync).
 *
 * Both servers run for the whole bench, each in its own process, temp dir and loopback ports;
 * the pairs and the report are bench/lib/main-thread-pairs.ts's.
 *
 * Usage: node dist/bench/main-thread-bench.js --before DIR [--pairs 3] [--seconds 4] [--keys 10000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { arg, count } from './lib/args.js';
import { distkvConfig } from './lib/compare-rows.js';
import { type PairServer, runMainThreadPairs } from './lib/main-thread-pairs.js';
import { freePort, ROOT, startProcess } from './lib/processes.js';
import { hasWrk } from './lib/wrk.js';

const BEFORE = arg('before', '');
const PAIRS = count('pairs', 3);
const SECONDS = count('seconds', 4);
const KEYS = count('keys', 10000);

async function start(name: PairServer['name'], dir: string, tmp: string): Promise<PairServer> {
  const [lp, rp] = [await freePort(), await freePort()];
  const data = join(tmp, name);
  const cfg = distkvConfig(tmp, { durability: 'fsync', inline: false, replicas: true }, lp, rp);
  const child = await startProcess(
    [join(dir, 'bin', 'distkv.js'), 'serve', '--config', cfg, '--data-dir', data],
    `http://127.0.0.1:${lp}/kv/probe`,
  );
  return { name, child, url: `http://127.0.0.1:${lp}` };
}

async function main(): Promise<void> {
  if (BEFORE === '' || !hasWrk()) {
    process.stderr.write('usage: node dist/bench/main-thread-bench.js --before DIR (needs wrk)\n');
    process.exit(2);
  }
  const tmp = mkdtempSync(join(tmpdir(), 'distkv-main-thread-'));
  const servers: PairServer[] = [];
  try {
    process.stdout.write(
      `# main-thread-bench | node ${process.version} | ${availableParallelism()} CPUs | wrk -t1 -c50 -d${SECONDS}s | ${KEYS} keys | ${PAIRS} pairs | load ${loadavg()[0]!.toFixed(2)}\n`,
    );
    servers.push(await start('after', ROOT, mkdtempSync(join(tmp, 'a-'))));
    servers.push(await start('before', resolve(BEFORE), mkdtempSync(join(tmp, 'b-'))));
    runMainThreadPairs(servers, { pairs: PAIRS, seconds: SECONDS, keys: KEYS, warmSeconds: 3 });
  } finally {
    for (const s of servers) await s.child.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
