/**
 * Every member of a shard on its own one-member etcd (docs/failover.md, "Members on different etcd
 * clusters"): the slip of a shared file naming `http://127.0.0.1:2379` on hosts that each run their
 * own etcd. All three start at once; none may lead beside another, and with no etcd cluster holding
 * a majority of the nodes, none takes a write; `distkv cluster` names the three clusters. One
 * shard, a leader and two replicas as processes, lease TTL 1 s. Skipped only when no etcd binary
 * exists.
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
/** WRITE_WAIT_MS bounds the write sent to the configured leader (a leader without its lease holds it, then refuses). */
const WRITE_WAIT_MS = 8000;

describe('every member on its own etcd cluster', { timeout: 120000, skip: etcdMissing() }, () => {
  let dir: string;
  const etcds: TestEtcd[] = [];
  let cluster: TestCluster | undefined;
  let members: string[];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'distkv-own-etcds-'));
    for (let i = 0; i < 3; i++) etcds.push(await TestEtcd.start());
    members = await Promise.all(['127.0.0.1', '127.0.0.2', '127.0.0.3'].map((h) => freeNodeAddress(h)));
    const shards = [{ address: members[0]!, replicas: members.slice(1) }];
    const configs = new Map(
      members.map((m, i) => {
        const own = join(dir, `config-${String(i)}`);
        mkdirSync(own);
        return [m, writeConfig(own, shards, coordinationToml(etcds[i]!.url))] as const;
      }),
    );
    cluster = await TestCluster.start({ dir, shards, configs });
  });

  after(async () => {
    await cluster?.stop();
    for (const e of etcds) await e.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('has no second leader, takes no write, and distkv cluster names the three etcd clusters', async () => {
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const leading: string[] = [];
    const coordinating: string[] = [];
    for (const m of members) {
      const doc = (await clusterOf(m)) as unknown as {
        shards: { leader: { address: string; local?: boolean } }[];
        coordination: { different_etcd_clusters?: { takes_part: boolean } };
      };
      const l = doc.shards[0]!.leader;
      if (l.address === m && l.local === true) leading.push(m);
      if (doc.coordination.different_etcd_clusters?.takes_part !== false) coordinating.push(m);
    }
    assert.deepEqual(leading, [members[0]], `members that lead shard-0: ${leading.join(', ')}`);
    let status = 0;
    try {
      const put = await fetch(`http://${members[0]!}/kv/unsure`, {
        method: 'PUT',
        body: 'x',
        redirect: 'manual',
        signal: AbortSignal.timeout(WRITE_WAIT_MS),
      });
      await put.arrayBuffer();
      status = put.status;
    } catch {
      // Held past the wait: not acknowledged either.
    }
    assert.notEqual(status, 204, `${members[0]!} acknowledged a write with no etcd cluster of a majority`);
    assert.deepEqual(coordinating, [], 'members that do not stand aside');
    const cli = await runCli(['cluster', '--url', members[0]!]);
    assert.equal(cli.code, 1, cli.stdout + cli.stderr);
    const line = cli.stderr.split('\n').find((l) => l.includes('members use different etcd clusters')) ?? '';
    for (const e of etcds) assert.ok(line.includes(e.url), `${e.url} named in: ${cli.stderr}`);
  });
});
