/**
 * Restart benchmark: how long a node killed with -9 takes from its spawn to serving again, idle and
 * while clients keep sending it requests (docs/performance.md, "Restart after a crash, idle and
 * under load").
 *
 * Two `distkv serve --node` processes on loopback, each leading one shard and replicating the
 * other's (one worker each). Per round: kill -9 node A, start it again with the same arguments,
 * and time from the spawn to its first `/healthz` 200 and to its first acknowledged `PUT /kv` of a
 * key it leads (both polled every 5 ms). With `--load`, `--clients` closed-loop clients keep
 * sending GETs and PUTs of `--keys` keys throughout, most to A, the rest to B (which redirects A's
 * keys to A); a refused connection waits 5 ms before the next try, a 503 `--starting-retry-ms`
 * (default 0: at once; the client library waits 200 ms). The rounds of each mode
 * alternate idle and loaded. With `durability = "interval"` a kill -9 makes A's restart start a new
 * epoch for its shard (docs/failover.md, "A leader restarting after a crash"); with `fsync` it
 * does not, which separates the epoch's cost from the rest. Also printed per round: A's CPU time
 * and longest run-queue wait at serving (/proc), the 503s the clients got from A while it started,
 * and, with `--phases`, A's own start phases (its log lines' times since the spawn, at `--log-level`).
 * `--cpu-prof DIR` profiles each restarted run (`node --cpu-prof`, one file per thread in
 * DIR/<mode>-<round>-<idle|load>/), stopped with SIGTERM after its round and started again unprofiled.
 * `--build DIR` runs node A from another built checkout (DIR/bin/distkv.js), B from this one.
 * Bounded: every load loop stops at `--max-ops` operations or the end of the run, every wait has a
 * time limit.
 *
 *   node dist/bench/restart-bench.js [--rounds 5] [--clients 20] [--keys 4000] [--modes interval,fsync] [--starting-retry-ms 0] [--build DIR] [--log-level info] [--phases] [--cpu-prof DIR] [--max-ops 2000000]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { slotOf } from '../src/routing/slot.js';
import { mutualLayout } from '../test/helpers/cluster.js';
import { freePort } from '../test/helpers/ports.js';
import { schedStat } from '../test/helpers/sched-stat.js';
import { BIN, ServerProcess, writeConfig } from '../test/helpers/server-process.js';
import { arg as argText, count } from './lib/args.js';

const ROUNDS = count('rounds', 5);
const CLIENTS = count('clients', 20);
const KEYS = count('keys', 4000);
const MAX_OPS = count('max-ops', 2_000_000);
const MODES = argText('modes', 'interval,fsync').split(',');
const LOG_LEVEL = argText('log-level', 'info');
const PROFILE = argText('cpu-prof', '');
const BUILD = argText('build', '');
/** A_BIN is the distkv command node A runs: this checkout's, or `--build`'s. */
const A_BIN = BUILD === '' ? BIN : join(BUILD, 'bin', 'distkv.js');
const STARTING_RETRY_MS = count('starting-retry-ms', 0, 0);
const POLL_MS = 5;
const ROUND_LIMIT_MS = 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** Load keeps `clients` closed-loop clients on the two nodes and counts A's answers by status. */
class Load {
  readonly statusAtA = new Map<number, number>();
  ops = 0;
  private stopped = false;
  private readonly loops: Promise<void>[];

  constructor(agent: Agent, a: string, b: string, keys: readonly string[], clients: number) {
    this.loops = Array.from({ length: clients }, async (_, c) => {
      // 3 of 4 clients talk to A, the others to B (which redirects A's keys to A).
      const origin = `http://${c % 4 === 3 ? b : a}`;
      while (!this.stopped && this.ops < MAX_OPS) {
        const i = this.ops++;
        const key = keys[(i * 7919) % keys.length]!;
        try {
          const r = await request(`${origin}/kv/${key}`, {
            dispatcher: agent,
            method: i % 2 === 0 ? 'PUT' : 'GET',
            body: i % 2 === 0 ? `v${i}` : null,
            headersTimeout: 5000,
            bodyTimeout: 5000,
          });
          await r.body.dump();
          if (origin.endsWith(a))
            this.statusAtA.set(r.statusCode, (this.statusAtA.get(r.statusCode) ?? 0) + 1);
          // As the client library waits out 503 STARTING (src/client/sender.ts), when asked to.
          if (r.statusCode === 503 && STARTING_RETRY_MS > 0) await sleep(STARTING_RETRY_MS);
        } catch {
          await sleep(POLL_MS);
        }
      }
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }
}

/** mainThreadCpuMs is the CPU time of `pid`'s main thread (0 when /proc cannot be read). */
function mainThreadCpuMs(pid: number | undefined): number {
  try {
    return Math.round(Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6);
  } catch {
    return 0;
  }
}

/** Restart is one round's figures. */
interface Restart {
  healthyMs: number;
  writeMs: number;
  cpuMs: number;
  /** mainMs is the main thread's share of cpuMs (the front door, the start's own steps). */
  mainMs: number;
  starvedMs: number;
  loggedServeMs: number;
  phases: string[];
}

/** restartA spawns A and times it to /healthz 200 and to its first acknowledged PUT. */
async function restartA(
  agent: Agent,
  args: string[],
  a: string,
  probeKey: string,
  profileDir: string | undefined,
): Promise<{ p: ServerProcess; r: Restart }> {
  const t0 = performance.now();
  const phases: string[] = [];
  const launcher = [
    process.execPath,
    ...(profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir]),
    A_BIN,
  ];
  const p = ServerProcess.spawn(['serve', ...args], { DISTKV_LOG_LEVEL: LOG_LEVEL }, launcher);
  p.child.stdout?.on('data', (d: Buffer | string) => {
    const at = Math.round(performance.now() - t0);
    for (const line of String(d).split('\n')) {
      const m = /"msg":"([^"]{0,60})/.exec(line);
      const fields = /"(?:records|ms)":\d+/g;
      if (m !== null) phases.push(`+${at} ${m[1]!} ${(line.match(fields) ?? []).join(' ')}`);
    }
  });
  const deadline = t0 + ROUND_LIMIT_MS;
  const until = async (ok: () => Promise<boolean>): Promise<number> => {
    while (performance.now() < deadline) {
      if (p.child.exitCode !== null) throw new Error(`A exited: ${p.stderr}`);
      try {
        if (await ok()) return performance.now() - t0;
      } catch {
        // not listening yet
      }
      await sleep(POLL_MS);
    }
    throw new Error(`A not serving within ${ROUND_LIMIT_MS} ms`);
  };
  const status = async (method: 'GET' | 'PUT', path: string): Promise<number> => {
    const r = await request(`http://${a}${path}`, {
      dispatcher: agent,
      method,
      body: method === 'PUT' ? 'probe' : null,
      headersTimeout: 5000,
    });
    await r.body.dump();
    return r.statusCode;
  };
  const healthyMs = await until(async () => (await status('GET', '/healthz')) === 200);
  const s = schedStat(p.child.pid);
  const mainMs = mainThreadCpuMs(p.child.pid);
  const writeMs = await until(async () => (await status('PUT', `/kv/${probeKey}`)) === 204);
  const logged = phases.find((l) => / serving on /.test(l));
  return {
    p,
    r: {
      healthyMs,
      writeMs,
      cpuMs: s.cpuMs,
      mainMs,
      starvedMs: s.starvedMs,
      loggedServeMs: logged === undefined ? NaN : Number(/^\+(\d+)/.exec(logged)?.[1]),
      phases,
    },
  };
}

async function runMode(durability: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'distkv-restart-bench-'));
  const a = `127.0.0.1:${await freePort('127.0.0.1')}`;
  const b = `127.0.0.2:${await freePort('127.0.0.2')}`;
  const config = writeConfig(dir, mutualLayout(a, b), `[storage]\ndurability = "${durability}"\n`);
  const argsOf = (n: string): string[] => [
    '--config',
    config,
    '--node',
    n,
    '--data-dir',
    join(dir, n.replace(/[:.]/g, '_')),
    '--workers',
    '1',
  ];
  const agent = new Agent({ connections: CLIENTS + 4, keepAliveTimeout: 10_000 });
  const keys = Array.from({ length: KEYS }, (_, i) => `key-${i}`);
  const probeKey = keys.find((k) => slotOf(k) < 8192)!;
  let pa = await ServerProcess.start(argsOf(a), `http://${a}/healthz`, { DISTKV_LOG_LEVEL: 'warn' }, 30000, [
    process.execPath,
    A_BIN,
  ]);
  const pb = await ServerProcess.start(argsOf(b), `http://${b}/healthz`, { DISTKV_LOG_LEVEL: 'warn' }, 30000);
  try {
    // Preload every key once (through the load's own path), then measure.
    const pre = new Load(agent, a, b, keys, CLIENTS);
    while (pre.ops < KEYS * 2) await sleep(20);
    await pre.stop();
    const rows: { mode: string; r: Restart; status503: number }[] = [];
    for (let i = 0; i < ROUNDS * 2; i++) {
      const loaded = i % 2 === 1;
      const load = loaded ? new Load(agent, a, b, keys, CLIENTS) : undefined;
      await sleep(500);
      pa.child.kill('SIGKILL');
      await pa.waitExit();
      await sleep(200);
      const before503 = load?.statusAtA.get(503) ?? 0;
      const profileDir =
        PROFILE === '' ? undefined : join(PROFILE, `${durability}-${i}-${loaded ? 'load' : 'idle'}`);
      const { p, r } = await restartA(agent, argsOf(a), a, probeKey, profileDir);
      pa = p;
      if (profileDir !== undefined) {
        // The profile is written at exit: stop the profiled run, start A again unprofiled.
        await load?.stop();
        await pa.stop();
        pa = await ServerProcess.start(
          argsOf(a),
          `http://${a}/healthz`,
          { DISTKV_LOG_LEVEL: 'warn' },
          30000,
          [process.execPath, A_BIN],
        );
      }
      const status503 = (load?.statusAtA.get(503) ?? 0) - before503;
      await load?.stop();
      rows.push({ mode: loaded ? 'load' : 'idle', r, status503 });
      console.log(
        `${durability.padEnd(8)} ${loaded ? 'load' : 'idle'}  healthz ${Math.round(r.healthyMs)} ms  first write ${Math.round(r.writeMs)} ms  (node's log: serving at +${r.loggedServeMs})  cpu ${r.cpuMs} ms (main thread ${r.mainMs})  run-queue wait ${r.starvedMs} ms  503s from A ${status503}`,
      );
      if (process.argv.includes('--phases')) console.log(`    ${r.phases.join('\n    ')}`);
    }
    for (const mode of ['idle', 'load']) {
      const own = rows.filter((x) => x.mode === mode);
      console.log(
        `${durability.padEnd(8)} ${mode}  MEDIAN healthz ${Math.round(median(own.map((x) => x.r.healthyMs)))} ms  first write ${Math.round(median(own.map((x) => x.r.writeMs)))} ms  cpu ${median(own.map((x) => x.r.cpuMs))} ms (main thread ${median(own.map((x) => x.r.mainMs))})  503s ${median(own.map((x) => x.status503))}`,
      );
    }
  } finally {
    await Promise.all([pa.stop(), pb.stop()]);
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(
  `node ${process.version}, ${availableParallelism()} CPUs; node A runs ${A_BIN}; 2 nodes, 1 worker each; ${KEYS} keys, ${CLIENTS} clients under load (a 503 retried after ${STARTING_RETRY_MS} ms); ${ROUNDS} rounds per mode, idle and loaded alternated`,
);
for (const m of MODES) await runMode(m);
