/**
 * Linearizability of single-key operations through a forced failover after kill -9 of the leader
 * (docs/failover.md, "Forced failover and fencing"): one shard led by A with replicas B and C, each
 * its own process; 12 loops (six sharing one client, six with their own) run random gets, puts,
 * compare-and-sets and deletes, every write with `w: 1`, on four hot keys while A is killed and
 * `distkv failover --force` promotes a replica, and after.
 *
 * What it checks: the whole history, before and after the failover, is linearizable for each key
 * with one allowance, the failover op (test/helpers/linearizability.ts): a write the old leader
 * applied above the fork (the new epoch's firstSeq - 1) is undone at the failover. Reads and 412s
 * answered by A may have seen such a write (A answers reads once a write is durable on its disk,
 * before a replica holds it: docs/api.md, "Write concern and what reads see"); only a write whose
 * outcome the client was not told can be one (no acknowledged `w = 1` write is above the fork),
 * every read before the failover saw the register as A's writes made it, and every operation after
 * it sees the register as it was at the fork, then as the new leader's writes make it. A read with
 * a read concern (`w = 1`) never shows such a write: 504 while no replica holds it (the first case;
 * a whole history of them: lin-forced-kill-read-concern.test.ts).
 * DISTKV_SEED replays the operations' choices (not the timing).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { failover } from '../../src/cli/failover.js';
import { divergedOf, storeOf, waitFor } from '../helpers/failover-model.js';
import { runForcedKill } from '../helpers/forced-kill-load.js';
import { HistoryRecorder } from '../helpers/history-recorder.js';
import { expectLinearizable, failoverOps, forkAt, sawAboveFork } from '../helpers/lin-fault-load.js';
import { checkHistory } from '../helpers/linearizability.js';
import { testSeed } from '../helpers/random.js';
import { Trio } from '../helpers/trio.js';

const KEYS = ['lf-a', 'lf-b', 'lf-c', 'lf-d'];

describe('linearizability through a forced failover after kill -9 of the leader', { timeout: 150000 }, () => {
  let trio: Trio;
  const clients: DistkvClient[] = [];

  before(async () => {
    trio = await Trio.start('lin-forced-kill');
    await trio.cluster.following();
  });

  after(async () => {
    for (const c of clients) await c.close();
    await trio.stop();
  });

  it('a read at the leader sees a w=1 write no replica holds, and a forced failover after kill -9 loses it: allowed only as the failover op; a read with w=1 never sees it', async () => {
    const { cluster, client, A, B, C } = trio;
    const rec = new HistoryRecorder();
    const key = 'lf-lost';
    const first = await rec.put(client, 'w', key, 'kept', { w: 1, timeoutMs: 5000 });
    assert.ok(typeof first === 'object', 'the first write was acknowledged');
    const replicated = { w: 1, timeoutMs: 20000 };
    assert.equal((await rec.get(client, 'rw', key, replicated))?.value, 'kept');
    // Both replicas stopped (a paused one may still get records its pull had in flight): A applies
    // the next write and serves it, and no replica can hold it.
    await cluster.stopNode(B);
    await cluster.stopNode(C);
    const lost = rec.put(client, 'w', key, 'lost', { w: 1, timeoutMs: 1500 });
    await waitFor('a read at A to see the unacknowledged write', async () => {
      const got = await rec.get(client, 'r', key);
      return got?.value === 'lost';
    });
    // The same read with a read concern: 504, never the write no replica holds.
    const timeouts = rec.errors.get('REPLICATION_TIMEOUT') ?? 0;
    assert.equal(await rec.get(client, 'rw', key, { w: 1, timeoutMs: 300 }), undefined);
    assert.equal(rec.errors.get('REPLICATION_TIMEOUT'), timeouts + 1, 'it answered REPLICATION_TIMEOUT');
    assert.equal(
      await lost,
      undefined,
      'the w=1 write was not acknowledged (REPLICATION_TIMEOUT: outcome unknown)',
    );
    const killedAt = performance.now();
    await cluster.kill(A);
    await cluster.startNode(B);
    await cluster.startNode(C);
    const r = await failover({
      urls: [`http://${B}`, `http://${C}`],
      shard: 'shard-0',
      force: true,
      token: '',
      timeoutMs: 20000,
    });
    const promotedAt = performance.now();
    const { fork, epoch } = await forkAt(r.to);
    assert.equal(
      (await rec.get(client, 'r', key))?.value,
      'kept',
      'the new leader does not hold the lost write',
    );
    assert.equal((await rec.get(client, 'rw', key, replicated))?.value, 'kept');
    assert.ok(
      rec.ops.every((op) => op.client !== 'rw' || op.output.kind !== 'found' || op.output.value === 'kept'),
      'no read with w=1 saw the lost write',
    );
    assert.ok(sawAboveFork(rec.ops, fork) >= 1, 'a read named a version above the fork');
    assert.equal(checkHistory(rec.ops).ok, false, 'without the failover op the history is not linearizable');
    const verdict = checkHistory([...rec.ops, ...failoverOps([key], killedAt, promotedAt, fork, epoch)]);
    assert.ok(verdict.ok, verdict.ok ? '' : verdict.report);
    // Lost, not dropped silently: back, A follows the new leader, the write in its divergence file.
    await cluster.startNode(A);
    await waitFor(`${A} to follow ${r.to}`, async () => (await storeOf(A)).role === 'replica');
    assert.ok(
      (await divergedOf(A)).bytes.includes(Buffer.from('lost')),
      'the lost write is in the divergence file',
    );
    await cluster.following();
  });

  it('is linearizable but for unacknowledged writes above the fork, which reads may have seen before the kill', async () => {
    const seed = testSeed();
    const run = await runForcedKill(trio, clients, { seed, keys: KEYS });
    // Not trivial: the checker had reads, compare-and-sets and 412s on both sides of the failover.
    expectLinearizable(run.load, run.failover, { seed, fork: run.fork, since: run.promotedAt, after: 600 });
  });
});
