/**
 * `distkv failover` (planned) against twins of a leader and its replica, where the target takes
 * the new map but its answer never comes (killed right after, or too slow): it may lead in the new
 * epoch from then on. The command released the old leader's held writes, and the old leader took
 * writes in its old epoch that the target's epoch discarded once it was back: acknowledged writes
 * ended up in the old leader's divergence file (seen with kill -9 of the target mid-failover). The
 * map must go to the old leader as well (it is given it first: failover-map-order.test.ts), the
 * writes never released, and the command say that the map is published and the shard waits for
 * the target.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { failover } from '../../src/cli/failover.js';
import { DistkvError } from '../../src/errors.js';
import type { LiveMap } from '../../src/routing/live-map.js';
import { oneShardMap, replicaView, startLeaderTwin } from '../helpers/failover-twins.js';
import { type HandlerTwin, startHandlerTwin, type TwinServer } from '../helpers/twin-server.js';

const LEADER_SEQ = 40;

describe('distkv failover whose target takes the map without answering', () => {
  let map: LiveMap;
  let leader: TwinServer;
  let target: HandlerTwin;
  /** leaderMaps are the maps posted to the leader; targetMaps those the target took. */
  const leaderMaps: LiveMap[] = [];
  const targetMaps: LiveMap[] = [];

  before(async () => {
    leader = await startLeaderTwin(
      () => map,
      LEADER_SEQ,
      (posted) => leaderMaps.push(posted),
    );
    target = await startHandlerTwin((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const url = req.url ?? '';
        if (url.startsWith('/_admin/map?')) {
          // It takes the map, then dies before it answers.
          targetMaps.push(JSON.parse(body) as LiveMap);
          req.socket.destroy();
          return;
        }
        const doc =
          url === '/cluster'
            ? replicaView(map, target.address, LEADER_SEQ)
            : url.startsWith('/_admin/fence')
              ? { shard: 0, epoch: 1, fenced: url.includes('on=1'), role: 'replica', last_seq: LEADER_SEQ }
              : undefined;
        if (doc === undefined) res.writeHead(404).end();
        else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
      });
    });
    map = oneShardMap(leader.address, target.address);
  });

  after(async () => {
    await leader.stop();
    await target.stop();
  });

  it('keeps the old leader held, posts it the map and says the shard waits for the target', async () => {
    await assert.rejects(
      failover({ urls: [`http://${leader.address}`], shard: 's0', force: false, token: '', timeoutMs: 5000 }),
      (err: unknown) => {
        assert.ok(err instanceof DistkvError, String(err));
        assert.equal(err.code, 'SHARD_UNREACHABLE');
        assert.match(err.message, new RegExp(`${target.address} did not answer when given the new map`));
        assert.match(
          err.message,
          new RegExp(`the map is published, the old leader ${leader.address} follows`),
        );
        assert.match(err.message, /--force/);
        return true;
      },
    );
    assert.equal(targetMaps.length, 1, 'the target took the map');
    assert.ok(
      !leader.calls.some((c) => c.startsWith('POST /_admin/fence') && c.includes('on=0')),
      `the old leader's writes are not released to its old epoch (calls: ${leader.calls.join(', ')})`,
    );
    assert.equal(leaderMaps.length, 1, `the old leader is given the map (calls: ${leader.calls.join(', ')})`);
    assert.deepEqual(leaderMaps[0], targetMaps[0], 'the same map as the target took');
    assert.equal(leaderMaps[0]!.shards[0]!.leader, target.address);
    assert.equal(leaderMaps[0]!.shards[0]!.history.at(-1)!.firstSeq, LEADER_SEQ + 1);
  });
});
