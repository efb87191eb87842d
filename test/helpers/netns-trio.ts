/**
 * NetnsTrio: one shard over three member processes, each in its own network namespace, for real
 * partitions (docs/correctness.md, "A partition of the leader"). The network (a bridge, a namespace
 * per member: test/helpers/netns-network.ts) has the test process at 10.211.N.254, reaching every
 * member, and at .253 a forwarding proxy to the test's private etcd (test/helpers/etcd.ts).
 * `partition(i)` adds `prohibit` routes in member i's namespace to the other members and to etcd:
 * nothing it sends them leaves (a connection either way cannot complete), while the test process
 * still reaches it on its own side; `heal(i)` removes them. Lease TTL 1 s. Needs root and
 * `ip netns` (`netnsMissing()` names why not); `stop` removes the namespaces, the bridge and the
 * temp dir. A run killed before `stop` leaves no network behind for long: on SIGINT or SIGTERM it
 * kills its members and removes it, and after a SIGKILL the next run removes it when it starts
 * (test/helpers/netns-leftovers.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CutProxy, startCutProxy } from './cut-proxy.js';
import { coordinationToml } from './etcd-trio.js';
import { TestEtcd } from './etcd.js';
import { NetnsNetwork } from './netns-network.js';
import { BIN, ServerProcess, writeConfig } from './server-process.js';

export { netnsMissing } from './netns-network.js';

/** MEMBER_PORT is every member's port: each has its own address, so one port fits all. */
const MEMBER_PORT = 7400;

/** NetnsTrio is a running trio: stop it in `after`. */
export class NetnsTrio {
  /** members are the shard's members ("host:port"), its configured leader first. */
  readonly members: readonly string[];
  private readonly processes: ServerProcess[] = [];
  private readonly net: NetnsNetwork;
  private readonly dir: string;
  private etcd: TestEtcd | undefined;
  private proxy: CutProxy | undefined;

  private constructor(name: string) {
    this.dir = mkdtempSync(join(tmpdir(), `distkv-${name}-`));
    try {
      // Killed by SIGINT or SIGTERM: its members go first, then (NetnsNetwork) the network.
      this.net = NetnsNetwork.build(3, () => {
        for (const p of this.processes) p.child.kill('SIGKILL');
        rmSync(this.dir, { recursive: true, force: true });
      });
    } catch (err) {
      rmSync(this.dir, { recursive: true, force: true });
      throw err;
    }
    this.members = [1, 2, 3].map((i) => `${this.net.prefix}.${i}:${MEMBER_PORT}`);
  }

  /** start builds the network, launches etcd, its proxy and the three members. */
  static async start(name: string): Promise<NetnsTrio> {
    const trio = new NetnsTrio(name);
    try {
      trio.etcd = await TestEtcd.start();
      const target = new URL(trio.etcd.url);
      trio.proxy = await startCutProxy(`${trio.net.prefix}.253`, target.hostname, Number(target.port));
      const shards = [{ address: trio.members[0]!, replicas: trio.members.slice(1) }];
      const config = writeConfig(trio.dir, shards, coordinationToml(trio.proxy.url));
      const started = await Promise.allSettled(
        trio.members.map((m, i) =>
          ServerProcess.start(
            ['--config', config, '--node', m, '--data-dir', join(trio.dir, `m${i}`), '--workers', '1'],
            `http://${m}/healthz`,
            { DISTKV_LOG_LEVEL: 'warn' },
            30000,
            ['ip', 'netns', 'exec', trio.net.namespaces[i]!, process.execPath, BIN],
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

  /** partition cuts member `i` (0-based) from the other members and from etcd; the test still reaches it. */
  partition(i: number): void {
    this.net.partition(i);
  }

  /** heal undoes partition(i). */
  heal(i: number): void {
    this.net.heal(i);
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
    this.net.remove();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
