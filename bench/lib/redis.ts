/**
 * Starting redis-server (Debian's package) on a loopback port for same-run comparisons: AOF on,
 * RDB snapshots off, data in a temp dir, with the given appendfsync policy.
 */
import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { type Child, stopChild } from './processes.js';

/** hasRedis reports whether redis-server is installed. */
export function hasRedis(): boolean {
  return spawnSync('redis-server', ['--version']).error === undefined;
}

/** respPing reports whether a RESP server on 127.0.0.1:`port` answers PING. */
export function respPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.on('error', () => {
      resolve(false);
    });
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      s.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
  });
}

/** startRedis starts redis-server with `appendfsync` (always | everysec) and waits for PING. */
export async function startRedis(port: number, appendfsync: string, dir: string): Promise<Child> {
  const t0 = performance.now();
  const proc = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      appendfsync,
      '--dir',
      dir,
      '--protected-mode',
      'no',
      '--loglevel',
      'warning',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const deadline = Date.now() + 10000;
  while (!(await respPing(port))) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error('redis-server did not answer PING within 10 s');
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    proc,
    startupMs: performance.now() - t0,
    stop: () => stopChild(proc),
  };
}
