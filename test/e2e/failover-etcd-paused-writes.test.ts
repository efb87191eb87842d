/**
 * A leader paused (SIGSTOP) with writes in flight, resumed (SIGCONT) after its lease ran out and
 * a replica was elected through etcd (docs/failover.md, "Automatic failover with etcd"): no `w=1`
 * write may be acknowledged that the new leader lacks (one whose acks arrive after the deadline is
 * answered 504, never 204), and every acknowledged `w=0` write the new leader lacks must be in
 * the old leader's divergence file once it rejoins as a replica. Two loads run through the client
 * library, one `w=1` and one `w=0`, so writes of both kinds are inside the leader when it stops.
 * Clients that write to the leader directly, never following a redirect (HTTP `w=1` and default,
 * RESP `SET` and `SET` + `WAIT 1`: test/helpers/direct-writes.ts), get no write acknowledged that
 * was sent after SIGCONT, and the same model holds for theirs. One shard, a leader and two
 * replicas as processes, lease TTL 1 s. Skipped only when no etcd binary exists.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { checkDirectWrites, DirectWriters } from '../helpers/direct-writes.js';
import { etcdMissing } from '../helpers/etcd.js';
import { EtcdTrio } from '../helpers/etcd-trio.js';
import {
  divergedOf,
  dumpAt,
  expectConverged,
  leaderSeenBy,
  Load,
  storeOf,
  waitFor,
} from '../helpers/failover-model.js';
import { pauseProcess } from '../helpers/process-pause.js';

describe('a leader paused with writes in flight', { timeout: 180000, skip: etcdMissing() }, () => {
  let trio: EtcdTrio;

  before(async () => {
    trio = await EtcdTrio.start('paused-writes');
  });

  after(async () => {
    await trio.stop();
  });

  it('acknowledges no w=1 write the new leader lacks, and keeps every lost w=0 write in the divergence file', async (t) => {
    const { members, client, cluster } = trio;
    const leader = (await leaderSeenBy(members[0]!))!;
    const others = members.filter((m) => m !== leader);
    const before = await divergedOf(leader);
    const w1 = new Load(client, 'w1', 3, 50000, 1);
    const w0 = new Load(client, 'w0', 3, 50000, 0);
    const direct = new DirectWriters(leader, 'direct');
    await Promise.all([w1.until(200), w0.until(200)]);
    const p = cluster.process(leader);
    await pauseProcess(p.child);
    let resumed = false;
    try {
      await waitFor(
        'a replica to be promoted',
        async () => {
          const l = await leaderSeenBy(others[0]!);
          return l !== undefined && l !== leader;
        },
        15000,
      );
      await Promise.all([w1.until(w1.acked.size + 100), w0.until(w0.acked.size + 100)]);
      p.child.kill('SIGCONT');
      resumed = true;
      const resumedAt = performance.now();
      await Promise.all([w1.until(w1.acked.size + 100), w0.until(w0.acked.size + 100)]);
      await waitFor('the old leader to refuse a direct write of every kind', () =>
        Promise.resolve(direct.everyKindRefused()),
      );
      await Promise.all([w1.stop(), w0.stop(), direct.stop()]);
      t.diagnostic(`direct writes at the old leader: ${direct.count()}`);
      // Past its lease deadline the resumed leader refuses at once: nothing sent after SIGCONT is acknowledged.
      assert.deepEqual(
        direct.writes
          .filter((w) => w.acked && w.sentAt > resumedAt)
          .map((w) => `${w.kind} ${w.key}: ${w.answer}`),
        [],
        'direct writes sent after SIGCONT are not acknowledged',
      );
      const now = (await leaderSeenBy(others[0]!))!;
      await waitFor(`${leader} to follow ${now}`, async () => (await storeOf(leader)).role === 'replica');
      // Every acknowledged w=1 write, also those answered after SIGCONT, is on the new leader.
      const replicated = new Map(w1.acked);
      for (const w of direct.writes) if (w.replicated) replicated.set(w.key, w.value);
      await expectConverged(client, members, now, replicated);
      const saved = await divergedOf(leader);
      const directLost = checkDirectWrites(direct.writes, await dumpAt(now), saved.bytes);
      const lost: string[] = [];
      for (const [k, v] of w0.acked) {
        if ((await client.get(k))?.toString() === v) continue;
        lost.push(k);
        assert.ok(
          saved.bytes.includes(Buffer.from(`${k}${v}`)),
          `lost w=0 write ${k} is in the divergence file`,
        );
      }
      t.diagnostic(
        `w=1: ${String(w1.acked.size)} acknowledged, ${String(w1.failed)} failed; w=0: ${String(w0.acked.size)} acknowledged, ${String(lost.length)} lost and saved`,
      );
      assert.ok(
        saved.records - before.records >= lost.length + directLost.length,
        `${String(saved.records - before.records)} records saved, ${String(lost.length + directLost.length)} acknowledged w=0 writes lost`,
      );
    } finally {
      if (!resumed) p.child.kill('SIGCONT');
      await direct.stop();
    }
  });
});
