/**
 * A private redis-server for side-by-side tests (docs/resp.md): its own temp dir and free loopback
 * ports, no persistence (`--save "" --appendonly no`), in cluster mode owning all 16384 slots, so it
 * answers CROSSSLOT and the cluster commands as a one-node distkv does. `requireRedisServer()`
 * throws a clear error when redis-server is not installed: these tests fail rather than skip, since
 * they are the check that distkv answers as Redis does (`.ci/run` installs Debian's redis-server).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from './ports.js';
import { RespConn } from './resp-conn.js';

/** requireRedisServer throws, naming what to install, when no redis-server can be run. */
export function requireRedisServer(): void {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error(
      'redis-server not found on PATH: this test compares distkv with it (install Debian redis-server; .ci/run does)',
    );
  }
}

/** TestRedis is a running private redis-server. */
export class TestRedis {
  readonly port: number;
  private readonly child: ChildProcess;
  private readonly dir: string;
  private output = '';

  private constructor(child: ChildProcess, port: number, dir: string) {
    this.child = child;
    this.port = port;
    this.dir = dir;
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (this.output += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.output += d));
  }

  /** start launches redis-server in cluster mode and waits (bounded) until it serves every slot. */
  static async start(timeoutMs = 20000): Promise<TestRedis> {
    requireRedisServer();
    const dir = mkdtempSync(join(tmpdir(), 'distkv-redis-'));
    const [port, bus] = await freePorts(2);
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--cluster-enabled',
        'yes',
        '--cluster-port',
        String(bus),
        '--cluster-config-file',
        join(dir, 'nodes.conf'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const redis = new TestRedis(child, port!, dir);
    const deadline = Date.now() + timeoutMs;
    let added = false;
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        const conn = await RespConn.open({ host: '127.0.0.1', port: port! });
        try {
          if (!added)
            added = (await conn.send([['CLUSTER', 'ADDSLOTSRANGE', '0', '16383']]))[0] === '+OK\r\n';
          const [info] = await conn.send([['CLUSTER', 'INFO']]);
          if (info?.includes('cluster_state:ok') === true) return redis;
        } finally {
          conn.close();
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await redis.stop();
    throw new Error(`redis-server did not serve its slots within ${timeoutMs} ms:\n${redis.output}`);
  }

  /** stop kills redis-server and removes its directory. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
