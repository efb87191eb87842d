/**
 * `distkv cluster` while a shard's leader holds no etcd lease (etcd down or cut off from it:
 * docs/failover.md, "A leader that loses etcd"): the shard takes no writes and reads there are
 * refused, so the command exits 1, as for a leader down, and says what to check. It printed
 * `NO LEADER: ADDR (no lease in etcd)` and exited 0, so a check of its exit status passed while
 * no shard took a write. Twin: a one-shard node whose /cluster says `no_lease`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/server-process.js';
import { type HandlerTwin, startViewTwin } from '../helpers/twin-server.js';

let noLease = true;
let twin: HandlerTwin;

before(async () => {
  twin = await startViewTwin((view) => {
    view.coordination = { lease_ttl_ms: 2000 };
    if (noLease) view.shards[0]!.leader.no_lease = true;
  }, 5);
});

after(async () => {
  await twin.stop();
});

describe('distkv cluster at a leader without its etcd lease', () => {
  it('exits 1 and says to check etcd', async () => {
    noLease = true;
    const r = await runCli(['cluster', '--url', twin.address]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`NO LEADER: ${twin.address} \\(no lease in etcd\\)`));
    assert.match(
      r.stdout,
      new RegExp(
        `^shard-0 takes no writes: its leader ${twin.address} holds no lease in etcd .*Check that etcd answers it`,
        'm',
      ),
    );
  });

  it('exits 0 once the leader holds it again', async () => {
    noLease = false;
    const r = await runCli(['cluster', '--url', twin.address]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /no lease|takes no writes/);
  });
});
