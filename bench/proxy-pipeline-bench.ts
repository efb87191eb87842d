/**
 * Pipelined writes through `serve --proxy`: two `--inline` processes, each leading one shard; 4
 * raw-socket connections send pipelines of `--depth` PUTs (100-byte values) of keys node B owns
 * to node A, which relays them (src/http/proxy.ts), `--rounds` pipelines each after a warm-up;
 * prints PUTs per second. The server is the checkout at `--root` (default: this one), so a
 * baseline checkout can be measured with this file in alternated runs:
 *
 *   node dist/bench/proxy-pipeline-bench.js --root <checkout> [--depth 16] [--rounds 150]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestCluster as Cluster } from '../test/helpers/cluster.js';
import type { ShardMap as Map_ } from '../src/routing/shard-map.js';
import type { Config } from '../src/config/schema.js';
import { arg, count } from './lib/args.js';

const ROOT = arg('root', fileURLToPath(new URL('../..', import.meta.url)));
const DEPTH = count('depth', 16);
const ROUNDS = count('rounds', 150);
const CONNECTIONS = 4;
const VALUE = 'v'.repeat(100);

// The checkout's own modules, so that its server (and its helpers) are the ones measured.
const load = async <T>(path: string): Promise<T> => (await import(join(ROOT, 'dist', path))) as T;
const { TestCluster } = await load<{ TestCluster: typeof Cluster }>('test/helpers/cluster.js');
const { freePorts } = await load<{ freePorts: (n: number) => Promise<number[]> }>('test/helpers/ports.js');
const { loadConfig } = await load<{ loadConfig: (path: string) => Config }>('src/config/load-config.js');
const { ShardMap } = await load<{ ShardMap: typeof Map_ }>('src/routing/shard-map.js');

/** pipelines sends ROUNDS pipelines of DEPTH PUTs of `keys` on one connection to `port`, each after the last is answered. */
async function pipelines(port: number, keys: string[], rounds: number): Promise<void> {
  const sock = connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  sock.setEncoding('latin1');
  let answered = 0;
  let wanted = 0;
  let wake: (() => void) | undefined;
  sock.on('data', (d: string) => {
    answered += d.split('HTTP/1.1 204').length - 1;
    if (answered >= wanted) wake?.();
  });
  for (let r = 0; r < rounds; r++) {
    let out = '';
    for (let j = 0; j < DEPTH; j++)
      out += `PUT /kv/${keys[j % keys.length]!} HTTP/1.1\r\nHost: t\r\nContent-Length: ${VALUE.length}\r\n\r\n${VALUE}`;
    wanted += DEPTH;
    const done = new Promise<void>((resolve) => (wake = resolve));
    sock.write(out);
    await done;
  }
  sock.destroy();
}

const dir = mkdtempSync(join(tmpdir(), 'distkv-proxy-pipeline-'));
const [pa, pb] = (await freePorts(2)) as [number, number];
const cluster = await TestCluster.start({
  dir,
  shards: [{ address: `127.0.0.1:${pa}` }, { address: `127.0.0.1:${pb}` }],
  args: ['--proxy', '--inline'],
});
try {
  const map = new ShardMap(loadConfig(cluster.config).shards);
  const keys: string[] = [];
  for (let i = 0; keys.length < 64; i++) if (map.shardOf(`k${i}`) === 1) keys.push(`k${i}`);
  await Promise.all([0, 1].map(() => pipelines(pa, keys, 20)));
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, () => pipelines(pa, keys, ROUNDS)));
  const seconds = (performance.now() - t0) / 1000;
  const puts = CONNECTIONS * ROUNDS * DEPTH;
  console.log(
    JSON.stringify({
      root: ROOT,
      node: process.version,
      depth: DEPTH,
      puts,
      seconds: Number(seconds.toFixed(3)),
      perSecond: Math.round(puts / seconds),
    }),
  );
} finally {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
