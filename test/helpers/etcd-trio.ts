/**
 * EtcdTrio: the cluster the etcd failover tests run on (docs/failover.md, "Automatic failover with
 * etcd"): a private etcd (test/helpers/etcd.ts) and one shard led by the first of three members on
 * loopback addresses 127.0.0.1-3 (a free port each, its RESP twin port free too), each its own `distkv serve --node` process,
 * lease TTL 1 s, and a client over all three. Its own temp dir, removed by `stop`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DistkvClient } from '../../src/client/client.js';
import { TestCluster } from './cluster.js';
import { TestEtcd } from './etcd.js';
import { leaderSeenBy, waitFor } from './failover-model.js';
import { freeNodeAddress } from './resp.js';

/** TRIO_TTL_MS is the trio's lease TTL: the shortest etcd honours with the test etcd's timings. */
export const TRIO_TTL_MS = 1000;

/** coordinationToml is the `[coordination]` table naming `etcdUrl` with a `ttlMs` lease. */
export function coordinationToml(etcdUrl: string, ttlMs = TRIO_TTL_MS): string {
  return `[coordination]\netcd = ["${etcdUrl}"]\nlease_ttl_ms = ${String(ttlMs)}\n`;
}

/** EtcdTrio is a running trio: stop it in `after`. */
export class EtcdTrio {
  /** dir is the trio's temp dir (the cluster's data dirs are under it; a test may add its own). */
  readonly dir: string;
  readonly etcd: TestEtcd;
  readonly cluster: TestCluster;
  readonly client: DistkvClient;
  /** members are the shard's members, its configured leader first. */
  readonly members: readonly string[];

  private constructor(
    dir: string,
    etcd: TestEtcd,
    cluster: TestCluster,
    client: DistkvClient,
    members: string[],
  ) {
    this.dir = dir;
    this.etcd = etcd;
    this.cluster = cluster;
    this.client = client;
    this.members = members;
  }

  /** start launches etcd and the three members; `name` names the temp dir. */
  static async start(name: string): Promise<EtcdTrio> {
    const dir = mkdtempSync(join(tmpdir(), `distkv-${name}-`));
    let etcd: TestEtcd | undefined;
    try {
      etcd = await TestEtcd.start();
      const members = await Promise.all(
        ['127.0.0.1', '127.0.0.2', '127.0.0.3'].map((h) => freeNodeAddress(h)),
      );
      const cluster = await TestCluster.start({
        dir,
        shards: [{ address: members[0]!, replicas: members.slice(1) }],
        extraToml: coordinationToml(etcd.url),
      });
      const client = new DistkvClient({ urls: members.map((m) => `http://${m}`), timeoutMs: 3000 });
      return new EtcdTrio(dir, etcd, cluster, client, members);
    } catch (err) {
      await etcd?.stop();
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** removeStoreDir removes shard-0's store directory on member `node` (as an operator's slip would, while it runs). */
  removeStoreDir(node: string): void {
    const dataDir = join(this.dir, node.replace(/[:.]/g, '_'));
    rmSync(join(dataDir, node.replace(':', '_'), 'shard-0'), { recursive: true, force: true });
  }

  /** newLeader waits (up to `ms`) until every member but `old` names one leader other than `old`, and returns it. */
  async newLeader(old: string, ms = 30000): Promise<string> {
    const others = this.members.filter((m) => m !== old);
    let leader: string | undefined;
    await waitFor(
      'a replica to lead',
      async () => {
        const seen = await Promise.all(others.map((m) => leaderSeenBy(m)));
        leader = seen[0];
        return leader !== undefined && leader !== old && seen.every((l) => l === leader);
      },
      ms,
    );
    return leader!;
  }

  /** stop closes the client, stops the members and etcd, and removes the temp dir. */
  async stop(): Promise<void> {
    await this.client.close();
    await this.cluster.stop();
    await this.etcd.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
