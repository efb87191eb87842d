/**
 * Duo: the two-node cluster of the forwarding tests (scans and batches split across nodes,
 * `--proxy`, a stopped owner): shard 0 led by A and shard 1 led by B, on loopback addresses
 * 127.0.0.2 and 127.0.0.3 (seedLayout), each its own `distkv serve --node` process (`--inline`
 * unless `args` say otherwise), and the shard map they route with. Its own temp dir, removed by
 * `stop`. The failover tests' three-node twin is test/helpers/trio.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { seedLayout, TestCluster } from './cluster.js';

/** DuoOptions configure Duo.start. */
export interface DuoOptions {
  /** replicaOfA makes B hold a replica of A's shard 0 too (default: no replicas). */
  replicaOfA?: boolean;
  /** args are the `distkv serve` arguments of both nodes (default `--inline`). */
  args?: string[];
  /** extraToml is appended to the config (e.g. a [server] table). */
  extraToml?: string;
}

/** Duo is a running two-node cluster: stop it in `after`. */
export class Duo {
  /** dir is the duo's temp dir (the cluster's data dirs are under it). */
  readonly dir: string;
  readonly cluster: TestCluster;
  /** map is the shard map both nodes route with. */
  readonly map: ShardMap;
  /** A leads shard 0; B leads shard 1. */
  readonly A: string;
  readonly B: string;

  private constructor(dir: string, cluster: TestCluster, A: string, B: string) {
    this.dir = dir;
    this.cluster = cluster;
    this.map = new ShardMap(loadConfig(cluster.config).shards);
    this.A = A;
    this.B = B;
  }

  /** start launches A and B; `name` names the temp dir. */
  static async start(name: string, o: DuoOptions = {}): Promise<Duo> {
    const dir = mkdtempSync(join(tmpdir(), `distkv-${name}-`));
    try {
      const l = await seedLayout(false);
      const [A, B] = [l[0]!.address, l[1]!.address];
      const cluster = await TestCluster.start({
        dir,
        shards: [{ address: A, replicas: o.replicaOfA === true ? [B] : [] }, { address: B }],
        args: o.args ?? ['--inline'],
        ...(o.extraToml === undefined ? {} : { extraToml: o.extraToml }),
      });
      return new Duo(dir, cluster, A, B);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** ownerOf is the address of the node that leads `key`'s shard. */
  ownerOf(key: string): string {
    return this.map.shardOf(key) === 0 ? this.A : this.B;
  }

  /** keyOf returns the first key `${prefix}0`, `${prefix}1`, … in `shard`. */
  keyOf(shard: 0 | 1, prefix: string): string {
    for (let i = 0; i < 10000; i++) if (this.map.shardOf(`${prefix}${i}`) === shard) return `${prefix}${i}`;
    throw new Error(`no key ${prefix}0..9999 in shard ${shard}`);
  }

  /** stop stops both nodes and removes the temp dir. */
  async stop(): Promise<void> {
    await this.cluster.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
