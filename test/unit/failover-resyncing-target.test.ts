/**
 * `distkv failover` must not promote a replica that reports `resyncing` (rebuilding from a leader
 * snapshot: its content is partial while the load runs, fuzzy until it replays the log through
 * the snapshot's exactSeq) unless told so with --force-resyncing. Promoted in the middle of its
 * load, it answered UNAVAILABLE until a restart, after which it led over the partial snapshot.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { failover } from '../../src/cli/failover.js';
import type { LiveMap } from '../../src/routing/live-map.js';
import { startTwinServer, type TwinServer } from '../helpers/twin-server.js';
import { closedAddress } from '../helpers/ports.js';

describe('distkv failover with a target under a resync', () => {
  let map: LiveMap;
  let twin: TwinServer;
  const published: LiveMap[] = [];

  before(async () => {
    twin = await startTwinServer((url, body) => {
      if (url === '/cluster')
        return {
          map,
          shards: [
            { idx: 0, replicas: [{ address: twin.address, local: true, acked_seq: 0, state: 'resyncing' }] },
          ],
        };
      if (url.startsWith('/_admin/fence'))
        return { shard: 0, epoch: 1, fenced: url.includes('on=1'), role: 'replica', last_seq: 0 };
      if (url.startsWith('/_admin/map?')) {
        published.push(JSON.parse(body) as LiveMap);
        return { adopted: true, map: published[published.length - 1] };
      }
      return undefined;
    });
    const leader = await closedAddress();
    map = {
      version: 3,
      shards: [
        {
          idx: 0,
          name: 's0',
          leader,
          replicas: [twin.address],
          epoch: 1,
          history: [{ epoch: 1, firstSeq: 1 }],
        },
      ],
    };
  });

  after(async () => {
    await twin.stop();
  });

  it('refuses it, saying why and how to override, and changes nothing', async () => {
    const o = { urls: [`http://${twin.address}`], shard: 's0', force: true, token: '', timeoutMs: 5000 };
    await assert.rejects(failover({ ...o, to: twin.address }), (err: Error) => {
      assert.match(err.message, /is resyncing from a leader snapshot.*--force-resyncing/);
      return true;
    });
    assert.equal(published.length, 0, 'a map was published');
    assert.ok(!twin.calls.some((c) => c.includes('/_admin/fence')), 'the target was held');
  });

  it('promotes it with --force-resyncing', async () => {
    const r = await failover({
      urls: [`http://${twin.address}`],
      shard: 's0',
      to: twin.address,
      force: true,
      forceResyncing: true,
      token: '',
      timeoutMs: 5000,
    });
    assert.equal(r.to, twin.address);
    assert.equal(published.length, 1);
  });
});
