/**
 * SET with an expiry (SET ... EX/PX/EXAT/PXAT/KEEPTTL without GET, SETEX, PSETEX) and PERSIST take
 * the path of the other RESP writes (docs/resp.md, "Expiry"): one op the store's worker runs at
 * once (OP_SET_IF, EDIT_PERSIST), so pipelined writes of one key share group commits as plain SETs
 * do. They were OP_PUT_EXTs submitted in order: the listener held every later command on the key
 * until the write had answered, one fsync each (200 `SET k v EX 100` in a pipeline took 200
 * group commits). The replies, the replica's expiry and the order of a connection's commands on
 * the key stay as before.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { TestCluster } from '../helpers/cluster.js';
import { RespConn } from '../helpers/resp-conn.js';
import { freeNodeAddress, respOf } from '../helpers/resp.js';
import { tempDir } from '../helpers/temp-dir.js';

/** walBatches returns the leader's WAL group commits so far (distkv_store_wal_batches_total, role leader). */
async function walBatches(address: string): Promise<number> {
  const text = await (await fetch(`http://${address}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^distkv_store_wal_batches_total\{[^}]*role="leader"[^}]*\} (\d+)$/gm))
    n += Number(m[1]);
  return n;
}

describe('SET with an expiry and PERSIST on the path of the other writes', () => {
  it(
    'writes 200 pipelined SET ... EX of one key in shared group commits, in order, with the replies and replica expiry of before',
    { timeout: 60000 },
    async () => {
      const dir = tempDir(after);
      const [leader, replica] = [await freeNodeAddress(), await freeNodeAddress()];
      const cluster = await TestCluster.start({ dir, shards: [{ address: leader, replicas: [replica] }] });
      const L = await RespConn.open(respOf(leader));
      const R = await RespConn.open(respOf(replica));
      try {
        await cluster.following();
        const N = 200;
        const before = await walBatches(leader);
        // Read before the SETs are sent: the last one's expiry is no earlier than this + 100 s.
        const sent = Date.now();
        const sets = await L.send(Array.from({ length: N }, (_, i) => ['SET', 'k', `v${i}`, 'EX', '100']));
        const batches = (await walBatches(leader)) - before;
        assert.deepEqual(new Set(sets), new Set(['+OK\r\n']));
        // Held one by one, each SET was its own group commit (N of them).
        assert.ok(batches <= N / 4, `${N} pipelined SET ... EX took ${batches} group commits`);

        const replies = await L.send([
          ['GET', 'k'],
          ['TTL', 'k'],
          ['SET', 'k', 'x', 'PX', '100000', 'NX'],
          ['SET', 'k', 'y', 'XX', 'KEEPTTL'],
          ['GET', 'k'],
          ['TTL', 'k'],
          ['PERSIST', 'k'],
          ['TTL', 'k'],
          ['PERSIST', 'k'],
          ['PERSIST', 'missing'],
          ['SETEX', 'k', '50', 'z'],
          ['GET', 'k'],
          ['PSETEX', 'k', '40000', 'w'],
          ['SET', 'k', 'gone', 'PXAT', '1'],
          ['EXISTS', 'k'],
          ['SET', 'k', 'gone', 'XX', 'PXAT', '1'],
          ['SET', 'j', 'v', 'EXAT', `${Math.floor(Date.now() / 1000) + 300}`],
          ['PSETEX', 'j2', '30000', 'v'],
          ['WAIT', '1', '5000'],
          ['PTTL', 'j'],
        ]);
        const answered = Date.now();
        // TTL k (replies 1 and 5, the expiry of the last SET ... EX 100) rounds the time left half
        // up, as Redis does: 100 while under 500 ms have passed since that SET, which a loaded
        // machine can outlast (the /metrics read and this pipeline come between); never less than
        // what is left at the answer.
        const least = Math.round((sent + 100_000 - answered) / 1000);
        for (const at of [1, 5]) {
          const left = Number(/^:(\d+)\r\n$/.exec(replies[at]!)?.[1]);
          assert.ok(
            left >= least && left <= 100,
            `TTL k (reply ${at}) ${replies[at]!}, not in ${least}..100`,
          );
        }
        const checkedTtl = 'TTL k: checked above';
        assert.deepEqual(
          replies.slice(0, 19).map((r, i) => (i === 1 || i === 5 ? checkedTtl : r)),
          [
            '$4\r\nv199\r\n',
            checkedTtl,
            '$-1\r\n',
            '+OK\r\n',
            '$1\r\ny\r\n',
            checkedTtl,
            ':1\r\n',
            ':-1\r\n',
            ':0\r\n',
            ':0\r\n',
            '+OK\r\n',
            '$1\r\nz\r\n',
            '+OK\r\n',
            '+OK\r\n',
            ':0\r\n',
            '$-1\r\n',
            '+OK\r\n',
            '+OK\r\n',
            ':1\r\n',
          ],
        );
        const pttl = Number(/^:(\d+)\r\n$/.exec(replies[19]!)?.[1]);
        assert.ok(pttl > 290_000 && pttl <= 300_000, `PTTL j ${replies[19]}`);
        const atReplica = await R.send([
          ['READONLY'],
          ['EXISTS', 'k'],
          ['TTL', 'j'],
          ['TTL', 'j2'],
          ['GET', 'j'],
        ]);
        assert.deepEqual(atReplica.slice(0, 2), ['+OK\r\n', ':0\r\n']);
        assert.match(atReplica[2]!, /^:(29\d|300)\r\n$/, 'the replica holds the expiry of SET ... EXAT');
        assert.match(atReplica[3]!, /^:(2\d|30)\r\n$/, 'and that of PSETEX');
        assert.equal(atReplica[4], '$1\r\nv\r\n');
      } finally {
        L.close();
        R.close();
        await cluster.stop();
      }
    },
  );
});
