/**
 * Trio: the cluster the failover tests without a coordinator run on (docs/failover.md): one shard
 * led by A with replicas B and C on loopback addresses 127.0.0.1-3, each its own `distkv serve
 * --node` process (a free port each, its RESP twin port free too), and a client. Its own temp dir,
 * removed by `stop`. The etcd tests' twin is test/helpers/etcd-trio.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DistkvClient } from '../../src/client/client.js';
import { TestCluster } from './cluster.js';
import { Load } from './failover-model.js';
import { freeNodeAddress } from './resp.js';

/** TrioOptions configure Trio.start. */
export interface TrioOptions {
  /** clientNodes are the nodes the client is given (default: all three). */
  clientNodes?: (members: readonly [string, string, string]) => string[];
}

/** Trio is a running trio: stop it in `after`. */
export class Trio {
  /** dir is the trio's temp dir (the cluster's data dirs are under it). */
  readonly dir: string;
  readonly cluster: TestCluster;
  readonly client: DistkvClient;
  /** A leads the shard at start; B and C are its replicas. */
  readonly A: string;
  readonly B: string;
  readonly C: string;

  private constructor(
    dir: string,
    cluster: TestCluster,
    client: DistkvClient,
    members: [string, string, string],
  ) {
    this.dir = dir;
    this.cluster = cluster;
    this.client = client;
    [this.A, this.B, this.C] = members;
  }

  /** members are A, B and C. */
  get members(): [string, string, string] {
    return [this.A, this.B, this.C];
  }

  /** start launches the three members; `name` names the temp dir. */
  static async start(name: string, o: TrioOptions = {}): Promise<Trio> {
    const dir = mkdtempSync(join(tmpdir(), `distkv-${name}-`));
    try {
      const members = (await Promise.all(
        ['127.0.0.1', '127.0.0.2', '127.0.0.3'].map((h) => freeNodeAddress(h)),
      )) as [string, string, string];
      const [A, B, C] = members;
      const cluster = await TestCluster.start({ dir, shards: [{ address: A, replicas: [B, C] }] });
      const nodes = o.clientNodes?.(members) ?? members;
      const client = new DistkvClient({ urls: nodes.map((n) => `http://${n}`) });
      return new Trio(dir, cluster, client, members);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * preload writes through the client (keys `before-*`, `w=2`, two writers) until `n` writes are
   * acknowledged, stops, and returns what was acknowledged: what a failover must keep.
   */
  async preload(n = 50): Promise<Map<string, string>> {
    const load = new Load(this.client, 'before', 2, 100, 2);
    await load.until(n);
    await load.stop();
    return load.acked;
  }

  /** stop closes the client, stops the members and removes the temp dir. */
  async stop(): Promise<void> {
    await this.client.close();
    await this.cluster.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
