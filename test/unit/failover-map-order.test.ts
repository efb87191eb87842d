/**
 * `distkv failover` (planned) gives the new map to the old leader before the target. The target
 * leads from the moment it has the map, while the old leader's hold runs out by itself when the
 * command dies: with the target first, the command and the target dying together (one host lost)
 * left the map at a dead target only, the old leader took writes in its old epoch once its hold ran
 * out, and the target, back, cut them into the old leader's divergence file. Here the target twin
 * records, when the map reaches it, whether the old leader holds it already (a target that then
 * does not answer: test/unit/failover-map-unanswered.test.ts). Forced, the old leader is down:
 * the shard's other replica is given the map before the target, for the same reason (an old leader
 * restarted while the target is down learns the map from it rather than lead it on in its old epoch).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LiveMap } from '../../src/routing/live-map.js';
import { failoverOfS0, oneShardMap, replicaView, startLeaderTwin } from '../helpers/failover-twins.js';
import { freePort } from '../helpers/ports.js';
import { startTwinServer, type TwinServer } from '../helpers/twin-server.js';

const LEADER_SEQ = 12;

describe('distkv failover posts the new map to the old leader first', () => {
  let map: LiveMap;
  let leader: TwinServer;
  let target: TwinServer;
  /** leaderMaps are the maps posted to the leader; seenAtTarget how many it held when the target got one. */
  const leaderMaps: LiveMap[] = [];
  const seenAtTarget: number[] = [];

  before(async () => {
    leader = await startLeaderTwin(
      () => map,
      LEADER_SEQ,
      (posted) => leaderMaps.push(posted),
    );
    target = await startTwinServer((url, body) => {
      if (url === '/cluster') return replicaView(map, target.address, LEADER_SEQ);
      if (url.startsWith('/_admin/fence'))
        return { shard: 0, epoch: 1, fenced: url.includes('on=1'), role: 'replica', last_seq: LEADER_SEQ };
      if (url.startsWith('/_admin/map?')) {
        seenAtTarget.push(leaderMaps.length);
        return { adopted: true, map: JSON.parse(body) as LiveMap };
      }
      return undefined;
    });
    map = oneShardMap(leader.address, target.address);
  });

  after(async () => {
    await leader.stop();
    await target.stop();
  });

  it('the old leader holds the map before the target is given it', async () => {
    const r = await failoverOfS0(leader.address, false);
    assert.equal(r.to, target.address);
    assert.deepEqual(seenAtTarget, [1], `calls at the leader: ${leader.calls.join(', ')}`);
    assert.equal(leaderMaps.length, 1, 'the old leader is given the map once');
    assert.equal(leaderMaps[0]!.shards[0]!.leader, target.address);
  });
});

describe('distkv failover --force posts the new map to the other replicas first', () => {
  let map: LiveMap;
  let target: TwinServer;
  let other: TwinServer;
  /** posted is the order in which the map reached the replicas. */
  const posted: string[] = [];
  const replica = (self: () => TwinServer, seq: number) =>
    startTwinServer((url) => {
      const me = self().address;
      if (url === '/cluster') return replicaView(map, me, seq);
      if (url.startsWith('/_admin/fence'))
        return { shard: 0, epoch: 1, fenced: url.includes('on=1'), role: 'replica', last_seq: seq };
      if (url.startsWith('/_admin/map?')) {
        posted.push(me);
        const next = structuredClone(map);
        next.version++;
        next.shards[0]!.leader = target.address;
        return { adopted: true, map: next };
      }
      return undefined;
    });

  before(async () => {
    target = await replica(() => target, LEADER_SEQ);
    other = await replica(() => other, LEADER_SEQ - 2);
    // The leader is down: nothing listens at its address.
    map = oneShardMap(`127.0.0.1:${await freePort()}`, target.address);
    map.shards[0]!.replicas.push(other.address);
  });

  after(async () => {
    await target.stop();
    await other.stop();
  });

  it('the other replica holds the map before the target is given it', async () => {
    const r = await failoverOfS0(target.address, true);
    assert.equal(r.to, target.address);
    assert.deepEqual(posted, [other.address, target.address]);
  });
});
