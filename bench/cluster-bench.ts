/**
 * Multi-process figures (issue: multi-host mode), measured through the client library:
 *  split    — the seed's 4 shards as 4 `--node` processes vs the same 4 shards in one process, same
 *             2 cores, driven by the load generator in client-routed mode; targets alternated.
 *  redirect — latency of a request sent to its owner, of one sent to the wrong node and followed
 *             (307 + the owner, what `curl -L` pays), and of a client's first request after the
 *             topology changed (307 carrying another config hash → reload /cluster → owner).
 *  delay    — 2 processes behind TCP proxies that hold every response chunk 1 ms (netem is not
 *             available on these machines), GET and PUT through the client at 64 connections,
 *             next to the same proxies without delay.
 *  proxy    — the cost of `serve --proxy`: sequential GETs sent to the owner vs to the other node,
 *             which forwards them; then 90/10 load through one node (half its keys forwarded) vs
 *             client-routed load on the same two nodes.
 *  netns    — the same 2 nodes each in its own network namespace, joined to this one by a veth pair
 *             (needs root and `ip`; skipped with a message otherwise). The proxies run here, on the
 *             host side of each veth, so every request crosses a veth in both directions.
 *
 * `npm run bench:cluster -- [OPTIONS]` builds the checkout, then runs it; on a built checkout:
 * Usage: node dist/bench/cluster-bench.js [split|redirect|delay|proxy|netns|all (default all)] [--seconds 10] [--rounds 2] [--keys 100000]
 *        [--durability fsync] [--inline]   (--inline: the 4 processes run their store on the main thread)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { DistkvClient } from '../src/client/client.js';
import { DEFAULT_LOAD, type LoadOptions, type LoadResult, runLoad } from '../src/loadgen/loadgen.js';
import { ShardMap } from '../src/routing/shard-map.js';
import { seedLayout, TestCluster } from '../test/helpers/cluster.js';
import { freePort } from '../test/helpers/ports.js';
import { BIN, ServerProcess, writeConfig } from '../test/helpers/server-process.js';
import { startDelayProxy, type DelayProxy } from '../test/helpers/tcp-proxy.js';
import { choice, count, DURABILITIES, flag, workload } from './lib/args.js';

const SECONDS = count('seconds', 10);
const ROUNDS = count('rounds', 2);
const KEYS = count('keys', 100000);
const WHICH = workload('all', ['all', 'split', 'redirect', 'delay', 'proxy', 'netns']);
const DURABILITY = choice('durability', 'fsync', DURABILITIES);
/** INLINE_FOUR runs the 4 single-node processes with --inline (stores on the main thread). */
const INLINE_FOUR = flag('inline');

const out = (s: string): void => {
  process.stdout.write(`${s}\n`);
};
const ms = (us: number): string => (us / 1000).toFixed(2);

const clientLoad = (config: string, extra: Partial<LoadOptions> = {}): Promise<LoadResult> =>
  runLoad({
    ...DEFAULT_LOAD,
    config,
    mix: 'get:90,set:10',
    keys: KEYS,
    dist: 'uniform',
    concurrency: 50,
    durationS: SECONDS,
    warmupS: 2,
    threads: 1,
    preload: false,
    ...extra,
  });

const preload = (config: string): Promise<LoadResult> =>
  clientLoad(config, { preload: true, durationS: 0.001, warmupS: 0, requests: 1 });

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function split(dir: string): Promise<void> {
  const layoutA = await seedLayout(false);
  const layoutB = await seedLayout(false);
  const one = await (async () => {
    const d = mkdtempSync(join(dir, 'one-'));
    const cfg = writeConfig(d, layoutA);
    const p = await ServerProcess.start(
      ['--config', cfg, '--data-dir', join(d, 'data'), '--durability', DURABILITY],
      `http://${layoutA[0]!.address}/healthz`,
      { DISTKV_LOG_LEVEL: 'warn' },
    );
    return { cfg, stop: () => p.stop() };
  })();
  const four = await TestCluster.start({
    dir: mkdtempSync(join(dir, 'four-')),
    shards: layoutB,
    args: ['--durability', DURABILITY, ...(INLINE_FOUR ? ['--inline'] : [])],
  });
  try {
    await preload(one.cfg);
    await preload(four.config);
    const runs: Record<string, number[]> = { one: [], four: [] };
    const p99: Record<string, number[]> = { one: [], four: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const order: ['one' | 'four', string][] = [
        ['one', one.cfg],
        ['four', four.config],
      ];
      if (round % 2 === 1) order.reverse();
      for (const [name, cfg] of order) {
        const r = await clientLoad(cfg);
        runs[name]!.push(r.throughput);
        p99[name]!.push(r.latency.p99_us);
        out(
          `round ${round + 1} ${name === 'one' ? '1 process ' : '4 processes'}: ${Math.round(r.throughput)} ops/s, p99 ${ms(r.latency.p99_us)} ms, errors ${r.errors}`,
        );
      }
    }
    const best = (xs: number[]): number => pct(xs, 50);
    // Rounds drift with the machine; the two targets of a round ran back to back, so their ratio is
    // the steadier figure.
    const ratios = runs.four!.map((f, i) => f / runs.one![i]!);
    out(
      `split: 4 processes${INLINE_FOUR ? ' (--inline)' : ''} vs 1 process: per-round ratios ${ratios.map((r) => r.toFixed(2)).join(', ')}, median ${pct(ratios, 50).toFixed(2)}x; median throughput ${Math.round(best(runs.four!))} vs ${Math.round(best(runs.one!))} ops/s, p99 ${ms(best(p99.four!))} vs ${ms(best(p99.one!))} ms`,
    );
  } finally {
    await one.stop();
    await four.stop();
  }
}

async function redirect(dir: string): Promise<void> {
  const layout = await seedLayout(false);
  const cluster = await TestCluster.start({ dir: mkdtempSync(join(dir, 'redirect-')), shards: layout });
  const map = new ShardMap(
    layout.map((s, i) => ({
      name: `shard-${i}`,
      idx: i,
      address: s.address,
      replicas: [],
      slots: { first: Math.floor((16384 * i) / 4), last: Math.floor((16384 * (i + 1)) / 4) - 1 },
    })),
  );
  const pools = new Map(layout.map((s) => [s.address, new Pool(`http://${s.address}`, { connections: 1 })]));
  try {
    const N = 2000;
    const keys = Array.from({ length: N }, (_, i) => `redir-${i}`);
    for (const k of keys)
      await pools
        .get(layout[map.shardOf(k)]!.address)!
        .request({ method: 'PUT', path: `/kv/${k}`, body: 'v' })
        .then((r) => r.body.dump());
    const direct: number[] = [];
    const followed: number[] = [];
    for (const k of keys) {
      const owner = layout[map.shardOf(k)]!.address;
      const wrong = layout[(map.shardOf(k) + 1) % 4]!.address;
      let t = performance.now();
      await (await pools.get(owner)!.request({ method: 'GET', path: `/kv/${k}` })).body.dump();
      direct.push(performance.now() - t);
      t = performance.now();
      const r = await pools.get(wrong)!.request({ method: 'GET', path: `/kv/${k}` });
      await r.body.dump();
      if (r.statusCode !== 307) throw new Error(`expected 307, got ${r.statusCode}`);
      const loc = new URL(String(r.headers.location));
      await (await pools.get(loc.host)!.request({ method: 'GET', path: loc.pathname })).body.dump();
      followed.push(performance.now() - t);
    }
    out(
      `redirect: direct GET p50 ${pct(direct, 50).toFixed(3)} ms p99 ${pct(direct, 99).toFixed(3)} ms; wrong node + follow p50 ${pct(followed, 50).toFixed(3)} ms p99 ${pct(followed, 99).toFixed(3)} ms (${N} sequential GETs each)`,
    );

    // First request after a topology change: the client holds an older topology (leaders rotated,
    // so another hash); its first request meets a 307 whose X-Distkv-Config differs, reloads /cluster
    // and goes to the owner.
    const client = new DistkvClient({ urls: [`http://${layout[0]!.address}`] });
    const real = await client.topology();
    const old = new ShardMap(
      real.shards.map((s, i) => ({ ...s, address: real.shards[(i + 1) % 4]!.address })),
    );
    const first: number[] = [];
    const steady: number[] = [];
    for (let i = 0; i < 300; i++) {
      (client as unknown as { topo: { current: ShardMap } }).topo.current = old;
      const k = keys[i]!;
      let t = performance.now();
      await client.get(k);
      first.push(performance.now() - t);
      t = performance.now();
      await client.get(k);
      steady.push(performance.now() - t);
    }
    out(
      `topology change: first request p50 ${pct(first, 50).toFixed(3)} ms p99 ${pct(first, 99).toFixed(3)} ms, the next one p50 ${pct(steady, 50).toFixed(3)} ms (${client.stats.redirects} redirects, ${client.stats.topologyLoads} topology loads over 300 changes)`,
    );
    await client.close();
  } finally {
    for (const p of pools.values()) await p.close();
    await cluster.stop();
  }
}

async function delay(dir: string): Promise<void> {
  for (const delayMs of [0, 1]) {
    const shards = [
      { address: `127.0.0.1:${await freePort()}` },
      { address: `127.0.0.1:${await freePort()}` },
    ];
    const listen = new Map<string, string>();
    const proxies: DelayProxy[] = [];
    for (const s of shards) {
      const bind = `127.0.0.1:${await freePort()}`;
      listen.set(s.address, bind);
      proxies.push(
        await startDelayProxy({
          listenHost: '127.0.0.1',
          listenPort: Number(s.address.split(':')[1]),
          targetHost: '127.0.0.1',
          targetPort: Number(bind.split(':')[1]),
          delayMs,
        }),
      );
    }
    const cluster = await TestCluster.start({
      dir: mkdtempSync(join(dir, `delay-${delayMs}-`)),
      shards,
      listen,
    });
    try {
      await preload(cluster.config);
      for (const mix of ['get:100', 'set:100']) {
        const r = await clientLoad(cluster.config, { mix, concurrency: 64 });
        out(
          `delay ${delayMs} ms, 2 processes, ${mix === 'get:100' ? 'GET' : 'PUT'} at 64 connections: ${Math.round(r.throughput)} ops/s, p50 ${ms(r.latency.p50_us)} ms, p99 ${ms(r.latency.p99_us)} ms, errors ${r.errors}`,
        );
      }
    } finally {
      await cluster.stop();
      for (const p of proxies) await p.close();
    }
  }
}

async function proxy(dir: string): Promise<void> {
  const l = await seedLayout(false);
  const shards = [{ address: l[0]!.address }, { address: l[1]!.address }];
  const cluster = await TestCluster.start({
    dir: mkdtempSync(join(dir, 'proxy-')),
    shards,
    args: ['--proxy', '--durability', DURABILITY],
  });
  const [a, b] = [shards[0]!.address, shards[1]!.address];
  const map = new ShardMap(
    shards.map((s, i) => ({
      name: `shard-${i}`,
      idx: i,
      address: s.address,
      replicas: [],
      slots: { first: i * 8192, last: i * 8192 + 8191 },
    })),
  );
  const pa = new Pool(`http://${a}`, { connections: 1 });
  const pb = new Pool(`http://${b}`, { connections: 1 });
  try {
    const keys = Array.from({ length: 4000 }, (_, i) => `px-${i}`)
      .filter((k) => map.shardOf(k) === 1)
      .slice(0, 2000);
    for (const k of keys)
      await (await pb.request({ method: 'PUT', path: `/kv/${k}`, body: 'v' })).body.dump();
    const direct: number[] = [];
    const forwarded: number[] = [];
    for (const k of keys) {
      let t = performance.now();
      await (await pb.request({ method: 'GET', path: `/kv/${k}` })).body.dump();
      direct.push(performance.now() - t);
      t = performance.now();
      const r = await pa.request({ method: 'GET', path: `/kv/${k}` });
      await r.body.dump();
      if (r.statusCode !== 200) throw new Error(`proxied GET answered ${r.statusCode}`);
      forwarded.push(performance.now() - t);
    }
    out(
      `proxy: ${keys.length} sequential GETs to the owner p50 ${pct(direct, 50).toFixed(3)} ms p99 ${pct(direct, 99).toFixed(3)} ms; through the other node p50 ${pct(forwarded, 50).toFixed(3)} ms p99 ${pct(forwarded, 99).toFixed(3)} ms`,
    );
    await preload(cluster.config);
    for (let round = 0; round < ROUNDS; round++) {
      const routed = await clientLoad(cluster.config);
      const viaOne = await runLoad({
        ...DEFAULT_LOAD,
        url: `http://${a}`,
        mix: 'get:90,set:10',
        keys: KEYS,
        concurrency: 50,
        durationS: SECONDS,
        warmupS: 2,
        threads: 1,
        preload: false,
      });
      out(
        `proxy round ${round + 1}: client-routed ${Math.round(routed.throughput)} ops/s p99 ${ms(routed.latency.p99_us)} ms; raw HTTP to one --proxy node (half forwarded) ${Math.round(viaOne.throughput)} ops/s p99 ${ms(viaOne.latency.p99_us)} ms, errors ${viaOne.errors}`,
      );
    }
  } finally {
    await pa.close();
    await pb.close();
    await cluster.stop();
  }
}

/** sh runs a command and throws with its stderr when it fails. */
function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || String(r.error)}`);
}

async function netns(dir: string): Promise<void> {
  if (process.getuid?.() !== 0 || spawnSync('ip', ['-V']).error !== undefined) {
    out('netns: skipped (needs root and iproute2)');
    return;
  }
  const tag = String(process.pid % 10000);
  const nets = [1, 2].map((i) => ({
    ns: `dkv${tag}n${i}`,
    host: `dkv${tag}h${i}`,
    peer: `dkv${tag}p${i}`,
    hostIp: `10.213.${i}.254`,
    nsIp: `10.213.${i}.1`,
  }));
  const cleanup = (): void => {
    for (const n of nets) {
      spawnSync('ip', ['link', 'del', n.host]);
      spawnSync('ip', ['netns', 'del', n.ns]);
    }
  };
  cleanup();
  try {
    for (const n of nets) {
      sh('ip', ['netns', 'add', n.ns]);
      sh('ip', ['link', 'add', n.host, 'type', 'veth', 'peer', 'name', n.peer]);
      sh('ip', ['link', 'set', n.peer, 'netns', n.ns]);
      sh('ip', ['addr', 'add', `${n.hostIp}/24`, 'dev', n.host]);
      sh('ip', ['link', 'set', n.host, 'up']);
      sh('ip', ['-n', n.ns, 'addr', 'add', `${n.nsIp}/24`, 'dev', n.peer]);
      sh('ip', ['-n', n.ns, 'link', 'set', n.peer, 'up']);
      sh('ip', ['-n', n.ns, 'link', 'set', 'lo', 'up']);
      sh('ip', ['-n', n.ns, 'route', 'add', 'default', 'via', n.hostIp]);
    }
    for (const delayMs of [0, 1]) {
      const d = mkdtempSync(join(dir, `netns-${delayMs}-`));
      // Clients and the other node reach each node at its proxy on the host side of its veth.
      const shards = nets.map((n) => ({ address: `${n.hostIp}:8080` }));
      const cfg = writeConfig(d, shards, '[server]\ntoken = "bench"\n');
      const proxies: DelayProxy[] = [];
      const nodes: ServerProcess[] = [];
      try {
        for (const n of nets) {
          proxies.push(
            await startDelayProxy({
              listenHost: n.hostIp,
              listenPort: 8080,
              targetHost: n.nsIp,
              targetPort: 8080,
              delayMs,
            }),
          );
        }
        for (const n of nets) {
          nodes.push(
            await ServerProcess.start(
              [
                '--config',
                cfg,
                '--node',
                `${n.hostIp}:8080`,
                '--listen',
                `${n.nsIp}:8080`,
                '--data-dir',
                join(d, n.ns),
                '--inline',
              ],
              `http://${n.nsIp}:8080/healthz`,
              { DISTKV_LOG_LEVEL: 'warn' },
              30000,
              ['ip', 'netns', 'exec', n.ns, process.execPath, BIN],
            ),
          );
        }
        await preload(cfg);
        for (const mix of ['get:100', 'set:100']) {
          const r = await clientLoad(cfg, { mix, concurrency: 64 });
          out(
            `netns + veth, delay ${delayMs} ms, ${mix === 'get:100' ? 'GET' : 'PUT'} at 64 connections: ${Math.round(r.throughput)} ops/s, p50 ${ms(r.latency.p50_us)} ms, p99 ${ms(r.latency.p99_us)} ms, errors ${r.errors}`,
          );
        }
      } finally {
        for (const p of nodes) await p.stop();
        for (const p of proxies) await p.close();
      }
    }
  } finally {
    cleanup();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'distkv-cluster-bench-'));
out(
  `# cluster-bench ${WHICH} | node ${process.version} | ${availableParallelism()} CPUs | ${SECONDS} s runs, ${ROUNDS} rounds, ${KEYS} keys, client-routed load generator (1 thread)`,
);
try {
  if (WHICH === 'split' || WHICH === 'all') await split(dir);
  if (WHICH === 'redirect' || WHICH === 'all') await redirect(dir);
  if (WHICH === 'delay' || WHICH === 'all') await delay(dir);
  if (WHICH === 'proxy' || WHICH === 'all') await proxy(dir);
  if (WHICH === 'netns' || WHICH === 'all') await netns(dir);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
