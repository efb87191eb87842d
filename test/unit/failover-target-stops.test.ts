/**
 * `distkv failover` (planned) against twins of a leader and its replica, where the target stops
 * answering while it catches up (killed after the leader's writes were held): the command polled
 * it until --timeout-ms ran out (30 s by default), the leader refusing every write of the shard all
 * that time, and then said the target "reached seq -1". It now gives up once the target has not
 * answered for a few seconds, releases the writes and names the last seq the target answered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { failover } from '../../src/cli/failover.js';
import { DistkvError } from '../../src/errors.js';
import type { LiveMap } from '../../src/routing/live-map.js';
import { oneShardMap, replicaView, startLeaderTwin } from '../helpers/failover-twins.js';
import { type HandlerTwin, startHandlerTwin, type TwinServer } from '../helpers/twin-server.js';

const LEADER_SEQ = 40;
const TARGET_SEQ = 5;
const TIMEOUT_MS = 9000;

describe('distkv failover whose target stops answering while it catches up', () => {
  let map: LiveMap;
  let leader: TwinServer;
  let target: HandlerTwin;
  let answered = 0;

  before(async () => {
    leader = await startLeaderTwin(() => map, LEADER_SEQ);
    target = await startHandlerTwin((req, res) => {
      // It answers the command's first look at the cluster, behind its leader, then dies.
      if (req.url !== '/cluster' || answered > 0) {
        req.socket.destroy();
        return;
      }
      answered++;
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(replicaView(map, target.address, TARGET_SEQ)));
    });
    map = oneShardMap(leader.address, target.address);
  });

  after(async () => {
    await leader.stop();
    await target.stop();
  });

  it('releases the held writes well before --timeout-ms, naming the last seq the target answered', async () => {
    const started = performance.now();
    await assert.rejects(
      failover({
        urls: [`http://${leader.address}`],
        shard: 's0',
        force: false,
        token: '',
        timeoutMs: TIMEOUT_MS,
      }),
      (err: unknown) => {
        assert.ok(err instanceof DistkvError, String(err));
        assert.equal(err.code, 'SHARD_UNREACHABLE', err.message);
        assert.match(err.message, new RegExp(`${target.address} stopped answering`));
        assert.match(err.message, new RegExp(`at seq ${TARGET_SEQ} of ${LEADER_SEQ}`));
        assert.match(err.message, /writes released, nothing changed/);
        return true;
      },
    );
    assert.ok(performance.now() - started < TIMEOUT_MS - 1000, 'given up before --timeout-ms');
    assert.ok(
      leader.calls.some((c) => c.startsWith('POST /_admin/fence') && c.includes('on=0')),
      `the leader's writes are released (calls: ${leader.calls.join(', ')})`,
    );
  });
});

describe('distkv failover whose target dies as it is held', () => {
  let map: LiveMap;
  let leader: TwinServer;
  let target: HandlerTwin;

  before(async () => {
    leader = await startLeaderTwin(() => map, LEADER_SEQ);
    target = await startHandlerTwin((req, res) => {
      if (req.url !== '/cluster') {
        req.socket.destroy();
        return;
      }
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(replicaView(map, target.address, LEADER_SEQ)));
    });
    map = oneShardMap(leader.address, target.address);
  });

  after(async () => {
    await leader.stop();
    await target.stop();
  });

  it('names the call the target did not answer (it said "fetch failed") and releases the writes', async () => {
    await assert.rejects(
      failover({ urls: [`http://${leader.address}`], shard: 's0', force: false, token: '', timeoutMs: 5000 }),
      (err: unknown) => {
        assert.ok(err instanceof DistkvError, String(err));
        assert.equal(err.code, 'SHARD_UNREACHABLE', err.message);
        assert.match(
          err.message,
          new RegExp(`^POST http://${target.address}/_admin/fence\\?shard=0&on=1.*: no answer \\(`),
        );
        return true;
      },
    );
    assert.ok(
      leader.calls.some((c) => c.startsWith('POST /_admin/fence') && c.includes('on=0')),
      `the leader's writes are released (calls: ${leader.calls.join(', ')})`,
    );
  });
});
