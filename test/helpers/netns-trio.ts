/**
 * NetnsTrio: one shard over three member processes, each in its own network namespace, for real
 * partitions (docs/correctness.md, "A partition of the leader"). The namespaces hang off one
 * bridge in the test's namespace (10.211.N.0/24, N from the test's pid): member i is 10.211.N.i,
 * the bridge is .254 (the test process's address: it reaches every member) and .253, where a
 * forwarding proxy leads to the test's private etcd (test/helpers/etcd.ts). `partition(i)` adds
 * `prohibit` routes in member i's namespace to the other members and to etcd: nothing it sends them
 * leaves (a connection either way cannot complete), while the test process still reaches it on its
 * own side; `heal(i)` removes them. Lease TTL 1 s. Needs root and `ip netns` (`netnsMissing()`
 * names why not); `stop` removes the namespaces, the bridge and the temp dir.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CutProxy, startCutProxy } from './cut-proxy.js';
import { coordinationToml } from './etcd-trio.js';
import { TestEtcd } from './etcd.js';
import { BIN, ServerProcess, writeConfig } from './server-process.js';

/** MEMBER_PORT is every member's port: each has its own address, so one port fits all. */
const MEMBER_PORT = 7400;

/** ip runs `ip <args>` and returns its output. */
function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** netnsMissing returns a skip message when this process cannot make network namespaces, else false. */
export function netnsMissing(): string | false {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces (CI runs as root)';
  const probe = `dkvprobe${process.pid}`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    return false;
  } catch (e) {
    return `ip netns does not work here: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/** NetnsTrio is a running trio: stop it in `after`. */
export class NetnsTrio {
  /** members are the shard's members ("host:port"), its configured leader first. */
  readonly members: readonly string[];
  private readonly processes: ServerProcess[] = [];
  private readonly namespaces: string[] = [];
  private readonly prefix: string;
  private readonly bridge: string;
  private readonly dir: string;
  private etcd: TestEtcd | undefined;
  private proxy: CutProxy | undefined;

  private constructor(name: string) {
    const n = 1 + (process.pid % 250);
    this.prefix = `10.211.${n}`;
    this.bridge = `dkvbr${process.pid}`;
    this.dir = mkdtempSync(join(tmpdir(), `distkv-${name}-`));
    this.members = [1, 2, 3].map((i) => `${this.prefix}.${i}:${MEMBER_PORT}`);
  }

  /** start builds the network, launches etcd, its proxy and the three members. */
  static async start(name: string): Promise<NetnsTrio> {
    const trio = new NetnsTrio(name);
    try {
      trio.network();
      trio.etcd = await TestEtcd.start();
      const target = new URL(trio.etcd.url);
      trio.proxy = await startCutProxy(`${trio.prefix}.253`, target.hostname, Number(target.port));
      const shards = [{ address: trio.members[0]!, replicas: trio.members.slice(1) }];
      const config = writeConfig(trio.dir, shards, coordinationToml(trio.proxy.url));
      const started = await Promise.allSettled(
        trio.members.map((m, i) =>
          ServerProcess.start(
            ['--config', config, '--node', m, '--data-dir', join(trio.dir, `m${i}`), '--workers', '1'],
            `http://${m}/healthz`,
            { DISTKV_LOG_LEVEL: 'warn' },
            30000,
            ['ip', 'netns', 'exec', trio.namespaces[i]!, process.execPath, BIN],
          ),
        ),
      );
      for (const s of started) if (s.status === 'fulfilled') trio.processes.push(s.value);
      const failed = started.find((s) => s.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      return trio;
    } catch (err) {
      await trio.stop();
      throw err;
    }
  }

  /** network makes the bridge (test side .254, etcd proxy .253) and one namespace per member. */
  private network(): void {
    ip('link', 'add', this.bridge, 'type', 'bridge');
    ip('addr', 'add', `${this.prefix}.254/24`, 'dev', this.bridge);
    ip('addr', 'add', `${this.prefix}.253/24`, 'dev', this.bridge);
    ip('link', 'set', this.bridge, 'up');
    for (const i of [1, 2, 3]) {
      const ns = `dkv${process.pid}m${i}`;
      const outer = `dkv${process.pid}v${i}`;
      ip('netns', 'add', ns);
      this.namespaces.push(ns);
      ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      ip('link', 'set', outer, 'master', this.bridge);
      ip('link', 'set', outer, 'up');
      ip('-n', ns, 'addr', 'add', `${this.prefix}.${i}/24`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
  }

  /** peersOf are the addresses member `i` talks to: the other members and etcd's proxy. */
  private peersOf(i: number): string[] {
    return [1, 2, 3]
      .filter((j) => j !== i + 1)
      .map((j) => `${this.prefix}.${j}/32`)
      .concat(`${this.prefix}.253/32`);
  }

  /** partition cuts member `i` (0-based) from the other members and from etcd; the test still reaches it. */
  partition(i: number): void {
    for (const peer of this.peersOf(i)) ip('-n', this.namespaces[i]!, 'route', 'add', 'prohibit', peer);
  }

  /** heal undoes partition(i). */
  heal(i: number): void {
    for (const peer of this.peersOf(i)) ip('-n', this.namespaces[i]!, 'route', 'del', 'prohibit', peer);
  }

  /** process is member `i`'s process (0-based). */
  process(i: number): ServerProcess {
    return this.processes[i]!;
  }

  /** stop stops the members, the proxy and etcd, removes the namespaces, the bridge and the temp dir. */
  async stop(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop()));
    await this.proxy?.close();
    await this.etcd?.stop();
    for (const ns of this.namespaces) ip('netns', 'del', ns);
    try {
      ip('link', 'del', this.bridge);
    } catch {
      // not made: the start failed before it
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
