/**
 * `node dist/bench/front-door-bench.js --before DIR`: the HTTP front door alone (no workers, no
 * store: bench/front-door-server.ts), this checkout's against another build's, CPU per request of
 * its process's main thread under `wrk -t1 -c50` PUT and GET. It isolates what the front door costs
 * per request from the worker hop and the fsync, which dominate the noise of front-door-bench.ts.
 *
 * Both servers run for the whole bench, each in its own process, temp dir and loopback ports;
 * the pairs and the report are bench/lib/main-thread-pairs.ts's.
 *
 * Usage: node dist/bench/front-door-bench.js --before DIR [--pairs 3] [--seconds 4]
 */
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { arg, count } from './lib/args.js';
import { type PairServer, runMainThreadPairs } from './lib/main-thread-pairs.js';
import { freePort, ROOT, startProcess } from './lib/processes.js';
import { hasWrk } from './lib/wrk.js';

const BEFORE = arg('before', '');
const PAIRS = count('pairs', 3);
const SECONDS = count('seconds', 4);
const KEYS = 10000;

async function start(name: PairServer['name'], dir: string): Promise<PairServer> {
  const port = await freePort();
  const child = await startProcess(
    [join(ROOT, 'dist', 'bench', 'front-door-server.js'), '--build', dir, '--port', String(port)],
    `http://127.0.0.1:${port}/kv/probe`,
  );
  return { name, child, url: `http://127.0.0.1:${port}` };
}

async function main(): Promise<void> {
  if (BEFORE === '' || !hasWrk()) {
    process.stderr.write('usage: node dist/bench/front-door-bench.js --before DIR (needs wrk)\n');
    process.exit(2);
  }
  const servers: PairServer[] = [];
  try {
    process.stdout.write(
      `# front-door-bench | node ${process.version} | ${availableParallelism()} CPUs | wrk -t1 -c50 -d${SECONDS}s | ${PAIRS} pairs | load ${loadavg()[0]!.toFixed(2)}\n`,
    );
    servers.push(await start('after', ROOT));
    servers.push(await start('before', resolve(BEFORE)));
    runMainThreadPairs(servers, { pairs: PAIRS, seconds: SECONDS, keys: KEYS, warmSeconds: 2 });
  } finally {
    for (const s of servers) await s.child.stop();
  }
}

await main();
