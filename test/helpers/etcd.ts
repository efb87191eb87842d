/**
 * A private etcd for tests: its own temp data dir and free loopback ports, so tests never share one.
 * Started with a short heartbeat and election timeout so etcd honours a 1 s lease TTL (its minimum
 * TTL is 1.5 election timeouts, rounded up to whole seconds). `etcdMissing()` names why a test that
 * needs etcd skips (no `etcd` binary: `.ci/run` installs Debian's etcd-server).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from './ports.js';
import { pauseProcess } from './process-pause.js';

/** etcdMissing returns a skip message when no etcd binary can be found, else false. */
export function etcdMissing(): string | false {
  try {
    execFileSync('etcd', ['--version'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'etcd not found on PATH (install Debian etcd-server; .ci/run does)';
  }
}

/** TestEtcd is a running private etcd. */
export class TestEtcd {
  readonly url: string;
  private readonly child: ChildProcess;
  private readonly dir: string;
  private output = '';

  private constructor(child: ChildProcess, url: string, dir: string) {
    this.child = child;
    this.url = url;
    this.dir = dir;
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (this.output += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.output += d));
  }

  /**
   * start launches etcd and waits (bounded) until it answers /health. The bound is generous: on a
   * shared machine etcd once printed its first line 20 s after it was spawned.
   */
  static async start(timeoutMs = 40000): Promise<TestEtcd> {
    const dir = mkdtempSync(join(tmpdir(), 'distkv-etcd-'));
    const [client, peer] = await freePorts(2);
    const url = `http://127.0.0.1:${client}`;
    const peerUrl = `http://127.0.0.1:${peer}`;
    const child = spawn(
      'etcd',
      [
        '--data-dir',
        join(dir, 'data'),
        '--listen-client-urls',
        url,
        '--advertise-client-urls',
        url,
        '--listen-peer-urls',
        peerUrl,
        '--initial-advertise-peer-urls',
        peerUrl,
        '--initial-cluster',
        `default=${peerUrl}`,
        '--heartbeat-interval',
        '50',
        '--election-timeout',
        '500',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // A test file whose `after` never reached stop() (it threw first: a cluster that did not start)
    // must still end: etcd's process and pipes do not hold the event loop, and it is killed when the
    // file's process exits. Held, the file waited for etcd for ever and the CI's e2e tier with it.
    child.unref();
    for (const s of [child.stdout, child.stderr]) (s as { unref?: () => void } | null)?.unref?.();
    const killAtExit = (): void => {
      child.kill('SIGKILL');
    };
    process.once('exit', killAtExit);
    child.once('exit', () => process.off('exit', killAtExit));
    const etcd = new TestEtcd(child, url, dir);
    const spawnedAt = new Date().toISOString();
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) break;
      try {
        const r = await fetch(`${url}/health`);
        if (r.ok && ((await r.json()) as { health?: string }).health === 'true') return etcd;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await etcd.stop();
    throw new Error(
      `etcd spawned at ${spawnedAt} did not become healthy within ${timeoutMs} ms:\n${etcd.output}`,
    );
  }

  /** pause stops etcd (SIGSTOP): it stops answering without closing its connections (every thread stopped). */
  pause(): Promise<void> {
    return pauseProcess(this.child);
  }

  /** resume continues a paused etcd (SIGCONT). */
  resume(): void {
    this.child.kill('SIGCONT');
  }

  /** stop kills etcd and removes its data. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      // Held again while its exit is awaited (start unref'd it): else the file could end first.
      this.child.ref();
      this.child.kill('SIGCONT');
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
