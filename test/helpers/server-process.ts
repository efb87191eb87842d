/**
 * The reusable e2e harness: start `distkv serve` as a child process on loopback with its own
 * config, data directory and ports, wait until it serves, talk to it, stop it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';
import { schedStat } from './sched-stat.js';
import { diagnose, reportEnv } from './start-diagnosis.js';

/**
 * STARVED_CAP bounds a start's wall time, as a multiple of its budget, however starved of CPU it
 * is: a machine that slow fails the start anyway.
 */
const STARVED_CAP = 6;

/** BIN is the distkv command of this checkout. */
export const BIN = fileURLToPath(new URL('../../../bin/distkv.js', import.meta.url));
/** REPO_ROOT is the checkout's root directory. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** ShardLayout describes one shard for `writeConfig`. */
export interface ShardLayout {
  address: string;
  replicas?: string[];
  slots?: string;
}

/** writeConfig writes a sharding.toml with the given shards and extra TOML; returns its path. */
export function writeConfig(dir: string, shards: ShardLayout[], extra = ''): string {
  const text = shards
    .map(
      (s, i) =>
        `[[shards]]\nname = "shard-${i}"\nidx = ${i}\naddress = "${s.address}"\nreplicas = [${(s.replicas ?? []).map((r) => `"${r}"`).join(', ')}]\n` +
        (s.slots === undefined ? '' : `slots = "${s.slots}"\n`),
    )
    .join('\n');
  const path = join(dir, 'sharding.toml');
  writeFileSync(path, `${text}\n${extra}\n`);
  return path;
}

/** ServerProcess is a running `distkv serve` child. */
export class ServerProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  /** startLog is the output until the process served, each chunk with its time since the spawn (for a failed start). */
  private startLog: string[] | undefined = [];
  private readonly spawnedAt = performance.now();
  private readonly exited: Promise<number | null>;

  private constructor(child: ChildProcess) {
    this.child = child;
    const note = (stream: string, d: string): void => {
      const at = `+${((performance.now() - this.spawnedAt) / 1000).toFixed(2)}s ${stream}| `;
      this.startLog?.push(
        ...d
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => at + l),
      );
    };
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      note('out', d);
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      note('err', d);
    });
    // 'close', not 'exit': the child's last output may still be in its pipes when 'exit' comes,
    // and callers read stdout and stderr once this resolves.
    this.exited = new Promise((resolve) => {
      child.on('close', (code) => {
        resolve(code);
      });
    });
  }

  /** spawn starts `distkv <args>` without waiting for anything. */
  static spawn(
    args: string[],
    env: NodeJS.ProcessEnv = {},
    launcher: string[] = [process.execPath, BIN],
  ): ServerProcess {
    const [cmd, ...pre] = launcher as [string, ...string[]];
    const child = spawn(cmd, [...pre, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, DISTKV_LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new ServerProcess(child);
  }

  /**
   * start spawns `distkv serve <args>` and waits until `healthUrl` answers 200 (or throws with its
   * output). `launcher` is the command that runs distkv (e.g. prefixed with `ip netns exec NS`).
   *
   * `timeoutMs` counts the start's own time: wall time less the time its threads waited for a CPU
   * (sched-stat.ts). On a loaded machine (CI, 10 processes starting at once on 2 cores) a start
   * that needs under a second of CPU spent 20 s and more runnable but not running; a fixed wall
   * budget failed such starts ("not healthy within 30000 ms") though nothing in them waited. A
   * start that waits (sleeping on a peer, a lock, a timer) or spins still counts in full, and the
   * wall time is capped at STARVED_CAP times the budget. A failure says which: wall, starved and
   * CPU time, the threads' states, and the output with its times since the spawn.
   */
  static async start(
    args: string[],
    healthUrl: string,
    env: NodeJS.ProcessEnv = {},
    timeoutMs = 15000,
    launcher?: string[],
  ): Promise<ServerProcess> {
    // Asked for when the start fails: what the child waited on (start-diagnosis.ts).
    const report = reportEnv(env);
    const p = ServerProcess.spawn(['serve', ...args], { ...env, ...report.env }, launcher);
    let sched = schedStat(p.child.pid);
    let checkedAt = 0;
    let lastProbe = 'none yet';
    for (;;) {
      // A child killed by a signal has no exit code, only a signal code: either way it is gone.
      if (p.child.exitCode !== null || p.child.signalCode !== null)
        throw new Error(
          `server exited with ${p.child.exitCode ?? p.child.signalCode}:\n${p.stdout}\n${p.stderr}`,
        );
      try {
        // Bounded: a port that accepts and never answers must not hold the start past its deadline.
        const r = await fetch(healthUrl, { signal: AbortSignal.timeout(2000) });
        if (r.status === 200) {
          p.startLog = undefined;
          return p;
        }
        lastProbe = `${r.status} ${(await r.text()).slice(0, 80)}`;
      } catch (err) {
        // not listening yet (or not answering within the probe's bound): kept whole for a failure
        // (a CI start once ended on a bare "TypeError", fetch's wrapper of what went wrong)
        lastProbe = probeFailure(err);
      }
      await new Promise((r) => setTimeout(r, 25));
      const wall = performance.now() - p.spawnedAt;
      // /proc is read twice a second: the run-queue wait only moves the deadline.
      if (wall - checkedAt >= 500) {
        checkedAt = wall;
        sched = schedStat(p.child.pid);
      }
      if (wall - sched.starvedMs > timeoutMs || wall > timeoutMs * STARVED_CAP) {
        sched = schedStat(p.child.pid);
        const waits = await diagnose(p.child.pid, report, Number(new URL(healthUrl).port));
        p.child.kill('SIGKILL');
        // Wait for the exit: the caller's next start may want this node's port and data directory.
        await p.waitExit();
        throw new Error(
          `server did not become healthy within ${timeoutMs} ms of its own time: ${Math.round(wall)} ms wall, ${sched.starvedMs} ms of it waiting for a CPU, ${sched.cpuMs} ms of CPU, threads ${sched.states}; last ${healthUrl}: ${lastProbe}; its output:\n${(p.startLog ?? []).join('\n')}\nwhat it waited on:\n${waits.join('\n')}`,
        );
      }
    }
  }

  /** waitExit resolves with the exit code (null when killed by a signal). */
  waitExit(): Promise<number | null> {
    return this.exited;
  }

  /** stop sends SIGTERM and waits for exit; SIGKILL after `graceMs`. */
  async stop(graceMs = 8000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

/** OwnServer is a `distkv serve` process that owns a temp dir (its config and data). */
export interface OwnServer {
  server: ServerProcess;
  dir: string;
  /** stop stops the process, then removes its directory. */
  stop: () => Promise<void>;
}

/**
 * startOwnServer writes a config of `shards` (and `extraToml`) into a fresh temp dir and starts one
 * process serving every node of it with its data in `<dir>/data` (`args` added, e.g. `--workers`),
 * healthy once the first shard's address answers (`env` added to its environment). Call `stop` from a file-level `after`: an
 * `after` registered inside a `before` hook runs as soon as that hook ends (it would remove the
 * directory under the running server).
 */
export async function startOwnServer(
  shards: ShardLayout[],
  extraToml = '',
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<OwnServer> {
  const dir = mkdtempSync(join(tmpdir(), 'distkv-test-'));
  const remove = (): void => {
    rmSync(dir, { recursive: true, force: true });
  };
  const config = writeConfig(dir, shards, extraToml);
  const server = await ServerProcess.start(
    ['--config', config, '--data-dir', join(dir, 'data'), ...args],
    `http://${shards[0]!.address}/healthz`,
    env,
  ).catch((err: unknown) => {
    remove();
    throw err;
  });
  const stop = async (): Promise<void> => {
    await server.stop();
    remove();
  };
  return { server, dir, stop };
}

/**
 * startOneNode serves one shard, without replicas, on a free loopback port through
 * `startOwnServer` (its own temp dir, removed by `stop`), with `extraToml` and `args` added.
 */
export async function startOneNode(
  extraToml = '',
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<OwnServer & { address: string; port: number }> {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  return { ...(await startOwnServer([{ address }], extraToml, args, env)), address, port };
}

/**
 * startConfigNode starts `distkv serve` as `node` of the cluster in `config`, on one worker, with
 * its data in `dataDir` (and `args`, e.g. `--proxy`; `env` over a log level of warn), once its
 * /healthz answers; `running` gets it (for the test's cleanup).
 */
export async function startConfigNode(
  config: string,
  node: string,
  dataDir: string,
  running: ServerProcess[],
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const p = await ServerProcess.start(
    ['--config', config, '--node', node, '--data-dir', dataDir, '--workers', '1', ...args],
    `http://${node}/healthz`,
    { DISTKV_LOG_LEVEL: 'warn', ...env },
  );
  running.push(p);
  return p;
}

/**
 * nodesFixture is a test's temporary directory (named from `prefix`) and the list its nodes go
 * into (startConfigNode's `running`); `after` (node:test's hook) stops every node, then removes
 * the directory.
 */
export function nodesFixture(
  after: (fn: () => Promise<void>) => void,
  prefix: string,
): { dir: string; running: ServerProcess[] } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const running: ServerProcess[] = [];
  after(async () => {
    for (const p of running) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, running };
}

/** storeDirIn is the directory of a startConfigNode `node`'s store of `shard` under its `dataDir`. */
export function storeDirIn(dataDir: string, node: string, shard = 'shard-0'): string {
  return join(dataDir, node.replace(':', '_'), shard);
}

/** CliResult is the outcome of one `distkv` command. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * runCli runs `distkv <args>` to completion and resolves with its exit code and output. The
 * caller's DISTKV_TOKEN and DISTKV_URL are cleared (a test names its target and token itself);
 * `env` adds to the environment; `input`, when given, is written to its stdin (closed after it).
 * `wrapper`, when given, is a command the node binary and its arguments are appended to (e.g.
 * `['/bin/sh', '-c', 'ulimit -f 64 && exec "$0" "$@"']` to run it under a file size limit).
 */
export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  input?: Buffer,
  wrapper: readonly string[] = [],
): Promise<CliResult> {
  return spawnCli(args, env, input, wrapper).result;
}

/** spawnCli starts `distkv <args>` as runCli does, and gives its pid at once and its result once it exits. */
export function spawnCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  input?: Buffer,
  wrapper: readonly string[] = [],
): { pid: number; result: Promise<CliResult>; stderrSoFar: () => string } {
  const [command = process.execPath, ...prefix] = wrapper;
  const child = spawn(command, [...prefix, ...(wrapper.length > 0 ? [process.execPath] : []), BIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, DISTKV_TOKEN: '', DISTKV_URL: '', ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  if (input !== undefined) child.stdin.end(input);
  const result = new Promise<CliResult>((resolve) => {
    // 'close', not 'exit': a loaded machine can deliver the last of stdout after the exit event.
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
  return { pid: child.pid ?? 0, result, stderrSoFar: () => stderr };
}

/** probeFailure is a failed health probe as text: the error and what fetch says caused it. */
function probeFailure(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; name?: string; message?: string } };
  const cause = e.cause;
  if (cause?.code === 'ECONNREFUSED') return 'ECONNREFUSED';
  const why =
    cause === undefined
      ? ''
      : ` (${[cause.name, cause.code, cause.message].filter((x) => x !== undefined && x !== '').join(' ')})`;
  return `${e.name}: ${e.message}${why}`;
}
