/**
 * Redis 7's EXPIRE NX/XX/GT/LT and SET ... GET with an expiry, as a replica and a watcher see them
 * (docs/resp.md, "Expiry"): the leader logs only the writes whose condition held (the value with its
 * new expiry, or the delete of a time past), so a replica answers the same expiry and a watch
 * stream shows exactly those changes.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DistkvClient, type WatchChange } from '../../src/client/index.js';
import { TestCluster } from '../helpers/cluster.js';
import { RespConn } from '../helpers/resp-conn.js';
import { freeNodeAddress, respOf } from '../helpers/resp.js';
import { tempDir } from '../helpers/temp-dir.js';

describe("EXPIRE's conditions and SET ... GET with an expiry on a replica and in a watch", () => {
  it('replicates and streams only the writes whose condition held', { timeout: 60000 }, async () => {
    const dir = tempDir(after);
    const [leader, replica] = [await freeNodeAddress(), await freeNodeAddress()];
    const cluster = await TestCluster.start({ dir, shards: [{ address: leader, replicas: [replica] }] });
    const client = new DistkvClient({ urls: [leader] });
    const stop = new AbortController();
    const L = await RespConn.open(respOf(leader));
    const R = await RespConn.open(respOf(replica));
    try {
      await cluster.following();
      const replies = await L.send([
        ['SET', 'w/a', 'v'],
        ['SET', 'w/b', 'v'],
        ['PEXPIRE', 'w/a', '100000', 'LT'],
        ['EXPIRE', 'w/a', '1000', 'NX'],
        ['EXPIRE', 'w/a', '50', 'GT'],
        ['PEXPIREAT', 'w/b', '1', 'XX'],
        ['PEXPIREAT', 'w/b', '1', 'LT'],
        ['SET', 'w/c', 'x', 'GET', 'PX', '200000'],
        ['SET', 'w/c', 'y', 'GET', 'KEEPTTL'],
        ['WAIT', '1', '5000'],
        ['PEXPIRETIME', 'w/a'],
        ['PEXPIRETIME', 'w/c'],
      ]);
      assert.deepEqual(replies.slice(0, 10), [
        '+OK\r\n',
        '+OK\r\n',
        ':1\r\n',
        ':0\r\n',
        ':0\r\n',
        ':0\r\n',
        ':1\r\n',
        '$-1\r\n',
        '$1\r\nx\r\n',
        ':1\r\n',
      ]);
      const atLeader = replies.slice(10);
      const atReplica = await R.send([
        ['READONLY'],
        ['PEXPIRETIME', 'w/a'],
        ['PEXPIRETIME', 'w/c'],
        ['EXISTS', 'w/b'],
        ['GET', 'w/c'],
      ]);
      assert.deepEqual(
        atReplica,
        ['+OK\r\n', ...atLeader, ':0\r\n', '$1\r\ny\r\n'],
        'the replica holds the same expiries',
      );
      assert.match(atLeader[0]!, /^:\d{13}\r\n$/);

      const seen: WatchChange[] = [];
      const watched = (async () => {
        for await (const ev of client.watch('w/', { from: '0.0', signal: stop.signal })) {
          if (ev.type !== 'put' && ev.type !== 'delete' && ev.type !== 'expire') continue;
          seen.push(ev);
          if (seen.length === 6) return;
        }
      })();
      const timeout = new Promise((_, reject) =>
        setTimeout(() => {
          reject(new Error(`saw only ${seen.map((e) => `${e.type}:${e.key ?? ''}`).join(' ')}`));
        }, 15000).unref(),
      );
      await Promise.race([watched, timeout]);
      assert.deepEqual(
        seen.map((e) => `${e.type} ${e.key ?? ''}`),
        ['put w/a', 'put w/b', 'put w/a', 'delete w/b', 'put w/c', 'put w/c'],
        'one change per write whose condition held, in log order',
      );
    } finally {
      stop.abort();
      L.close();
      R.close();
      await client.close();
      await cluster.stop();
    }
  });
});
