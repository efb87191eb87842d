/**
 * Benchmark process helpers: start distkv or the baseline server as child processes on loopback,
 * wait for them, stop them. The load runs in other processes (wrk or the load generator), never in
 * the server's process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** ROOT is the repository root. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * freePort returns a free loopback port whose RESP twin (port + the default `resp_port_offset`,
 * where a spawned node also listens) is free too: the tests' own (test/helpers/ports.ts).
 */
export { freePort } from '../../test/helpers/ports.js';

/** defaultLayoutConfig writes config/default.toml's layout (4 shards, leaders on one port, replicas on another). */
export function defaultLayoutConfig(
  dir: string,
  leaderPort: number,
  replicaPort: number,
  extra = '',
): string {
  const shards = [0, 1, 2, 3]
    .map(
      (i) =>
        `[[shards]]\nname = "shard-${i}"\nidx = ${i}\naddress = "127.0.0.1:${leaderPort}"\nreplicas = ["127.0.0.1:${replicaPort}"]\n`,
    )
    .join('\n');
  const path = join(dir, 'bench.toml');
  writeFileSync(path, `${shards}\n${extra}\n`);
  return path;
}

/**
 * oneWorkerServeArgs is `bin/distkv.js serve` of the checkout at `root` over config/default.toml's
 * layout (written into `dir`) with one shard worker, the given durability and `dir`/data.
 */
export function oneWorkerServeArgs(
  root: string,
  dir: string,
  leaderPort: number,
  replicaPort: number,
  durability: string,
): string[] {
  const cfg = defaultLayoutConfig(dir, leaderPort, replicaPort, `[storage]\ndurability = "${durability}"\n`);
  return [
    join(root, 'bin', 'distkv.js'),
    'serve',
    '--config',
    cfg,
    '--data-dir',
    join(dir, 'data'),
    '--workers',
    '1',
  ];
}

/** Child is a started server process. */
export interface Child {
  proc: ChildProcess;
  /** startupMs is the time from spawn to the first answered request. */
  startupMs: number;
  stop(): Promise<void>;
}

/** startProcess spawns `node args`, then polls `probeUrl` until it answers (any status), and returns the child. */
export async function startProcess(
  args: string[],
  probeUrl: string,
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 20000,
): Promise<Child> {
  const t0 = performance.now();
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, DISTKV_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${proc.exitCode}`);
    try {
      const r = await fetch(probeUrl);
      await r.arrayBuffer();
      if (r.status !== 503) break;
    } catch {
      // not yet listening
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${args.join(' ')} did not answer ${probeUrl} within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  const startupMs = performance.now() - t0;
  return {
    proc,
    startupMs,
    stop: () => stopChild(proc),
  };
}

/** stopChild sends SIGTERM and resolves when the child exits (SIGKILL after 8 s). */
export function stopChild(proc: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (proc.exitCode !== null) {
      resolve();
      return;
    }
    proc.once('exit', () => {
      resolve();
    });
    proc.kill('SIGTERM');
    setTimeout(() => proc.kill('SIGKILL'), 8000).unref();
  });
}
