/**
 * Reads other than the client's key reads at a node that led a shard before a failover
 * (docs/api.md, "Retries (client library)", docs/resp.md): the client's scans and batches, RESP
 * commands and the seed's `/get`. None may pass off what the node's replica (or its held leader)
 * holds as the leader's answer: each is answered by the new leader, refused to be retried, or
 * marked as a replica's (X-Distkv-Lag, `replica_lag`, a READONLY connection). One shard led by A
 * with replicas B and C, each its own process.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { failover } from '../../src/cli/failover.js';
import { respOf } from '../helpers/resp.js';
import { RespConn } from '../helpers/resp-conn.js';
import { Trio } from '../helpers/trio.js';

/** fence holds (`on` true) or releases shard 0's writes at a leader, or its following at a replica. */
async function fence(node: string, on: boolean): Promise<string> {
  const res = await fetch(
    `http://${node}/_admin/fence?shard=0&on=${on ? '1&ms=30000' : '0'}&by=stale-other-reads`,
    { method: 'POST' },
  );
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return (JSON.parse(text) as { role: string }).role;
}

/** resp sends `commands` on one new connection to `node`'s RESP port and returns the replies. */
async function resp(node: string, commands: string[][]): Promise<string[]> {
  const conn = await RespConn.open(respOf(node));
  try {
    return await conn.send(commands);
  } finally {
    conn.close();
  }
}

let trio: Trio | undefined;
let atB: DistkvClient | undefined;
let replicaReader: DistkvClient | undefined;
let batcher: DistkvClient | undefined;

before(async () => {
  trio = await Trio.start('stale-other-reads', { clientNodes: ([a]) => [a] });
  await trio.cluster.following();
});

after(async () => {
  await atB?.close();
  await replicaReader?.close();
  await batcher?.close();
  await trio?.stop();
});

describe('reads at a node that leads a shard no more, or is held by a failover', { timeout: 120000 }, () => {
  it('RESP SCAN, KEYS, DBSIZE and RANDOMKEY at a held leader answer -TRYAGAIN, as its key reads do', async () => {
    const { A, client } = trio!;
    await client.put('held-key', 'before');
    assert.equal(await fence(A, true), 'leader');
    try {
      const replies = await resp(A, [
        ['SCAN', '0'],
        ['KEYS', '*'],
        ['DBSIZE'],
        ['RANDOMKEY'],
        ['MGET', 'held-key'],
      ]);
      for (const [i, name] of ['SCAN', 'KEYS', 'DBSIZE', 'RANDOMKEY', 'MGET'].entries())
        assert.match(
          replies[i]!,
          /^-TRYAGAIN .*shard 0's leader is being switched/,
          `${name} at the held leader`,
        );
    } finally {
      await fence(A, false);
    }
    const [dbsize] = await resp(A, [['DBSIZE']]);
    assert.equal(dbsize, ':1\r\n', 'released, the leader answers again');
  });

  it('after a failover, the old leader forwards or marks what its replica would answer', async () => {
    const { A, B, client } = trio!;
    await client.put('moved-key', 'before');
    // Clients with the map from before the failover, one per read, as an answer may update it.
    replicaReader = new DistkvClient({ urls: [`http://${A}`], replicaReads: true });
    batcher = new DistkvClient({ urls: [`http://${A}`] });
    await Promise.all([replicaReader.topology(), batcher.topology()]);
    const r = await failover({
      urls: [`http://${B}`],
      shard: 'shard-0',
      to: B,
      force: false,
      token: '',
      timeoutMs: 20000,
    });
    assert.equal(r.to, B);
    // A follows B now: hold its following, so its replica keeps what it had before.
    assert.equal(await fence(A, true), 'replica');
    try {
      atB = new DistkvClient({ urls: [`http://${B}`] });
      await atB.put('moved-key', 'after');
      await atB.put('moved-new', 'new');
      for (const c of [client, replicaReader, batcher])
        assert.equal(c.liveMapVersion, 1, 'the clients still route with the map from before the failover');

      // The client's scan goes to A with leader=1: A asks B for the shard.
      const page = await client.scanPage('moved-');
      assert.deepEqual(
        page.items.map((i) => [i.key, i.value.toString(), i.replicaLag]),
        [
          ['moved-key', 'after', undefined],
          ['moved-new', 'new', undefined],
        ],
      );
      // With replicaReads A serves its replica's part, and marks it.
      const marked = await replicaReader.scanPage('moved-');
      assert.deepEqual(
        marked.items.map((i) => [i.key, i.value.toString()]),
        [['moved-key', 'before']],
      );
      assert.ok(marked.items[0]!.replicaLag !== undefined, 'the replica part is marked');
      // A batch sent to A (the stale map's leader) is applied at B.
      assert.deepEqual(await batcher.batch([{ op: 'set', key: 'moved-batch', value: 'b' }]), [{ ok: true }]);
      assert.equal(await atB.getString('moved-batch'), 'b');

      // The seed's /get at A is its replica's answer, marked, "not found" included.
      const found = await fetch(`http://${A}/get?key=moved-key`);
      assert.equal(await found.text(), 'Value: before');
      assert.ok(found.headers.get('x-distkv-lag') !== null, 'a replica value is marked');
      const missing = await fetch(`http://${A}/get?key=moved-new`);
      assert.equal(missing.status, 404, await missing.text());
      assert.ok(missing.headers.get('x-distkv-lag') !== null, "a replica's not found is marked");

      // RESP: without READONLY, the key is moved to B; after it, A's replica answers (Redis's rule).
      const moved = new RegExp(`^-MOVED \\d+ 127\\.0\\.0\\.2:${respOf(B).port}\\r\\n$`);
      const [get, mget, , readonlyGet] = await resp(A, [
        ['GET', 'moved-key'],
        ['MGET', 'moved-key'],
        ['READONLY'],
        ['GET', 'moved-key'],
      ]);
      assert.match(get!, moved);
      assert.match(mget!, moved);
      assert.equal(readonlyGet, '$6\r\nbefore\r\n');
    } finally {
      await fence(A, false);
    }
  });
});
