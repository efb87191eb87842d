/**
 * `distkv cluster` at a shard whose leader started behind its replica (docs/failover.md, "A leader
 * that starts behind its replica"): `NO LEADER: L (BEHIND R)` and the failover to run while the
 * leader keeps its key; with etcd, once it gave the key up (`/cluster` → `leader.behind.handing_over`,
 * and `no_lease`), `(BEHIND R, HANDING OVER)` and that the replica takes the shard over by itself,
 * not the command no one needs to run (nor "no lease in etcd", which hid why). Twin: a one-shard
 * node whose /cluster the test sets.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, startViewTwin } from '../helpers/twin-server.js';

const R = '127.0.0.1:2';
let handingOver = false;
let twin: HandlerTwin;

before(async () => {
  twin = await startViewTwin((view) => {
    const leader = view.shards[0]!.leader;
    leader.behind = {
      replica: R,
      replica_seq: 7,
      leader_seq: 0,
      ...(handingOver ? { handing_over: true } : {}),
    };
    if (handingOver) leader.no_lease = true;
    view.shards[0]!.replicas = [{ address: R, local: false }];
  });
});

after(async () => {
  await twin.stop();
});

describe('distkv cluster at a leader held behind its replica', () => {
  it('names the failover to run while the leader keeps its key', async () => {
    handingOver = false;
    const r = await runCli(['cluster', '--url', twin.address]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`NO LEADER: ${twin.address} \\(BEHIND ${R}\\)`));
    assert.match(r.stdout, new RegExp(`LEADER BEHIND: .*run distkv failover --shard shard-0 --to ${R}`));
  });

  it('says the replica takes the shard over once the leader gave its key up', async () => {
    handingOver = true;
    const r = await runCli(['cluster', '--url', twin.address]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`NO LEADER: ${twin.address} \\(BEHIND ${R}, HANDING OVER\\)`));
    assert.match(
      r.stdout,
      /LEADER BEHIND: .*it gave up its leader key in etcd, and the most advanced replica takes the shard over by itself/,
    );
    assert.doesNotMatch(r.stdout, /distkv failover/);
  });
});
