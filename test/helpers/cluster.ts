/**
 * A multi-process cluster on loopback for e2e tests and benchmarks: one `distkv serve --node ADDR`
 * process per address of a sharding.toml (leaders and replicas alike), each with its own data
 * directory, sharing one config file (unless `configs` gives a node its own). Nodes can be killed and
 * restarted one by one.
 */
import { join } from 'node:path';
import { freePort } from './ports.js';
import { ServerProcess, type ShardLayout, writeConfig } from './server-process.js';

/** ClusterOptions configure TestCluster.start. */
export interface ClusterOptions {
  dir: string;
  shards: ShardLayout[];
  /** extraToml is appended to the generated config (e.g. a [storage] table). */
  extraToml?: string;
  /** workers per process (default 1). */
  workers?: number;
  env?: NodeJS.ProcessEnv;
  /** args are extra `distkv serve` arguments for every process. */
  args?: string[];
  /** listen maps a node address to the address it binds instead (`--listen`, e.g. behind a proxy). */
  listen?: Map<string, string>;
  /** configs maps a node address to its own config file instead of the shared one (e.g. another etcd URL). */
  configs?: Map<string, string>;
  /** later are nodes that start() leaves stopped, for the test to start (startNode). */
  later?: string[];
}

/** TestCluster is a running set of `distkv serve --node` processes. */
export class TestCluster {
  readonly config: string;
  readonly addresses: string[];
  private readonly processes = new Map<string, ServerProcess>();
  private readonly o: ClusterOptions;

  private constructor(o: ClusterOptions) {
    this.o = o;
    this.config = writeConfig(o.dir, o.shards, o.extraToml ?? '');
    this.addresses = [...new Set(o.shards.flatMap((s) => [s.address, ...(s.replicas ?? [])]))];
  }

  /**
   * start launches every node concurrently and waits until all serve. When one fails, it waits for
   * the others' starts to settle (each is healthy or killed: ServerProcess.start) and stops those
   * that came up before it rethrows: none is left holding its port and data directory.
   */
  static async start(o: ClusterOptions): Promise<TestCluster> {
    const c = new TestCluster(o);
    const now = c.addresses.filter((a) => o.later?.includes(a) !== true);
    const starts = await Promise.allSettled(now.map((a) => c.startNode(a)));
    const failed = starts.find((s) => s.status === 'rejected');
    if (failed !== undefined) {
      await c.stop();
      throw failed.reason;
    }
    return c;
  }

  /**
   * following waits (up to `ms`) until every replica store of every running node streams from its
   * leader. start waits for each node to serve only: a replica that pulled before its leader
   * listened backs off (up to 5 s between pulls), so a first `WAIT 1 5000` or `w=1` write could
   * time out on a loaded machine where the leader came up seconds after it.
   */
  async following(ms = 30000): Promise<void> {
    const deadline = Date.now() + ms;
    for (const address of this.processes.keys()) {
      for (;;) {
        const doc = (await (
          await fetch(`http://${this.o.listen?.get(address) ?? address}/stats`)
        ).json()) as {
          stores: { role: string; replicaState?: string }[];
        };
        const behind = doc.stores.filter((s) => s.role === 'replica' && s.replicaState !== 'streaming');
        if (behind.length === 0) break;
        if (Date.now() > deadline)
          throw new Error(
            `${address}: replicas not streaming after ${String(ms)} ms: ${JSON.stringify(behind)}`,
          );
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** leaders are the leader addresses, in shard order. */
  get leaders(): string[] {
    return this.o.shards.map((s) => s.address);
  }

  /** process returns the running process of `address` (throws when it is not running). */
  process(address: string): ServerProcess {
    const p = this.processes.get(address);
    if (p === undefined) throw new Error(`node ${address} is not running`);
    return p;
  }

  /** startNode (re)starts the node of `address`, optionally with another config file and more arguments (`--repair`). */
  async startNode(
    address: string,
    config = this.o.configs?.get(address) ?? this.config,
    extra: readonly string[] = [],
  ): Promise<ServerProcess> {
    const bind = this.o.listen?.get(address);
    const p = await ServerProcess.start(
      [
        '--config',
        config,
        '--node',
        address,
        '--data-dir',
        join(this.o.dir, address.replace(/[:.]/g, '_')),
        '--workers',
        String(this.o.workers ?? 1),
        ...(bind === undefined ? [] : ['--listen', bind]),
        ...(this.o.args ?? []),
        ...extra,
      ],
      `http://${bind ?? address}/healthz`,
      { DISTKV_LOG_LEVEL: 'warn', ...this.o.env },
      30000,
    );
    this.processes.set(address, p);
    return p;
  }

  /** kill sends SIGKILL to a node and waits for it to exit. */
  async kill(address: string): Promise<void> {
    const p = this.process(address);
    p.child.kill('SIGKILL');
    await p.waitExit();
    this.processes.delete(address);
  }

  /** stopNode stops one node gracefully. */
  async stopNode(address: string): Promise<void> {
    await this.process(address).stop();
    this.processes.delete(address);
  }

  /** stop stops every running node. */
  async stop(): Promise<void> {
    await Promise.all([...this.processes.values()].map((p) => p.stop()));
    this.processes.clear();
  }
}

/**
 * seedLayout is the seed's 4-shard layout (leaders on 127.0.0.2-5, replicas on 127.0.0.22, .23, .33,
 * .44, .45, .55), each address with a free port instead of 8080 so tests can run side by side.
 */
export async function seedLayout(withReplicas = true): Promise<ShardLayout[]> {
  const at = async (host: string): Promise<string> => `${host}:${await freePort(host)}`;
  const replicas = [['22', '23'], ['33'], ['44', '45'], ['55']];
  const out: ShardLayout[] = [];
  for (let i = 0; i < 4; i++) {
    out.push({
      address: await at(`127.0.0.${i + 2}`),
      replicas: withReplicas ? await Promise.all(replicas[i]!.map((r) => at(`127.0.0.${r}`))) : [],
    });
  }
  return out;
}

/**
 * mutualLayout is two nodes that lead `shardsEach` shards each and host the replicas of the
 * other's: shards 0..shardsEach-1 on `a` (replicated on `b`), then as many on `b` (replicated on `a`).
 */
export function mutualLayout(a: string, b: string, shardsEach = 1): ShardLayout[] {
  const half = (address: string, replica: string): ShardLayout[] =>
    Array.from({ length: shardsEach }, () => ({ address, replicas: [replica] }));
  return [...half(a, b), ...half(b, a)];
}
