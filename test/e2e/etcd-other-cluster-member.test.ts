/**
 * One member of an etcd-coordinated shard whose `[coordination] etcd` reaches another etcd cluster
 * than the others' (docs/failover.md, "Automatic failover with etcd"): an operator's slip, such as
 * a config that names `http://127.0.0.1:2379` on hosts that each run their own one-member etcd, or
 * one host's file left pointing at a test etcd. The topology hash does not cover the etcd URLs (a
 * proxy or another name for the same etcd is legitimate), so the peers agree on the config; the
 * member alone in its etcd finds no leader key and no other published seq there, and promotes
 * itself. A user expects one leader per shard: a member that cannot see the leader its peers
 * follow must not take writes as a second one, and `distkv cluster` should say why. One shard, a
 * leader and two replicas as processes, the last replica on its own etcd, lease TTL 1 s. Skipped
 * only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TestCluster } from '../helpers/cluster.js';
import { etcdMissing, TestEtcd } from '../helpers/etcd.js';
import { coordinationToml, TRIO_TTL_MS } from '../helpers/etcd-trio.js';
import { clusterOf } from '../helpers/failover-model.js';
import { freeNodeAddress } from '../helpers/resp.js';
import { runCli, writeConfig } from '../helpers/server-process.js';

/** SETTLE_MS is how long the members run before their leaders are counted (several TTLs: a campaign takes about two). */
const SETTLE_MS = 6 * TRIO_TTL_MS;

describe('a member whose etcd is another cluster', { timeout: 120000, skip: etcdMissing() }, () => {
  let dir: string;
  let etcd: TestEtcd | undefined;
  let otherEtcd: TestEtcd | undefined;
  let cluster: TestCluster | undefined;
  let members: string[];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'distkv-other-etcd-'));
    etcd = await TestEtcd.start();
    otherEtcd = await TestEtcd.start();
    members = await Promise.all(['127.0.0.1', '127.0.0.2', '127.0.0.3'].map((h) => freeNodeAddress(h)));
    const shards = [{ address: members[0]!, replicas: members.slice(1) }];
    const ownDir = join(dir, 'own-config');
    mkdirSync(ownDir);
    cluster = await TestCluster.start({
      dir,
      shards,
      extraToml: coordinationToml(etcd.url),
      configs: new Map([[members[2]!, writeConfig(ownDir, shards, coordinationToml(otherEtcd.url))]]),
    });
  });

  after(async () => {
    await cluster?.stop();
    await etcd?.stop();
    await otherEtcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('does not become a second leader of the shard', async () => {
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const leading: string[] = [];
    for (const m of members) {
      const doc = (await clusterOf(m)) as unknown as {
        shards: { leader: { address: string; local?: boolean } }[];
      };
      const l = doc.shards[0]!.leader;
      if (l.address === m && l.local === true) leading.push(m);
    }
    // A write sent straight to the misconfigured member, no redirect followed: a replica answers 307.
    const put = await fetch(`http://${members[2]!}/kv/split-brain`, {
      method: 'PUT',
      body: 'x',
      redirect: 'manual',
    });
    await put.arrayBuffer();
    assert.deepEqual(leading, [members[0]], `members that lead shard-0: ${leading.join(', ')}`);
    assert.notEqual(put.status, 204, `${members[2]!} acknowledged a write as the shard's leader`);
  });

  it('says the members use different etcd clusters: its log, /cluster and distkv cluster name both', async () => {
    // Runs after the first test, whose wait let every member compare its peers' etcd clusters.
    type Coordination = {
      etcd_cluster_id?: string;
      different_etcd_clusters?: { takes_part: boolean; nodes: { node: string; etcd_cluster_id: string }[] };
    };
    const coordinationOf = async (m: string): Promise<Coordination> =>
      ((await clusterOf(m)) as unknown as { coordination: Coordination }).coordination;
    const [leader, odd] = [await coordinationOf(members[0]!), await coordinationOf(members[2]!)];
    assert.ok(leader.etcd_cluster_id !== undefined && odd.etcd_cluster_id !== undefined);
    assert.notEqual(leader.etcd_cluster_id, odd.etcd_cluster_id);
    assert.equal(odd.different_etcd_clusters?.takes_part, false);
    assert.equal(leader.different_etcd_clusters?.takes_part, true);
    assert.deepEqual(
      leader.different_etcd_clusters.nodes.map((n) => [n.node, n.etcd_cluster_id]),
      [[members[2]!, odd.etcd_cluster_id]],
    );
    const log = cluster!.process(members[2]!).stdout;
    assert.match(log, /MEMBERS USE DIFFERENT ETCD CLUSTERS/);
    assert.ok(
      log.includes(leader.etcd_cluster_id) && log.includes(otherEtcd!.url),
      'the error names both clusters and its etcd',
    );
    const cli = await runCli(['cluster', '--url', members[0]!]);
    assert.equal(cli.code, 1, cli.stdout + cli.stderr);
    assert.match(cli.stderr, /members use different etcd clusters/);
    assert.ok(cli.stderr.includes(odd.etcd_cluster_id) && cli.stderr.includes(members[2]!), cli.stderr);
  });
});
