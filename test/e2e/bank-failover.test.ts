/**
 * The bank test (test/helpers/bank.ts) across planned failovers: a three-node cluster (A leads the
 * one shard, B and C replicate it, one process each) whose leader moves A → B → C → A with
 * `distkv failover --shard shard-0 --to R` (docs/failover.md) while transfers run, through the
 * client library and posted to B (forwarded whole while B does not lead). Readers read all five
 * accounts in one step at every member (scan page at its address, MGET after READONLY) and at the
 * leader (MGET following -MOVED, scan page with leader=1): every read, before, during and after
 * each failover, must see the books balanced, and at the end every member holds the same content.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { expectSameCopies, openAccounts, Transfers, viaClient, viaNode } from '../helpers/bank.js';
import { Readers, respReader, scanReader, underLoad } from '../helpers/bank-readers.js';
import { leaderSeenBy, storeOf } from '../helpers/failover-model.js';
import { testSeed } from '../helpers/random.js';
import { runCli } from '../helpers/server-process.js';
import { Trio } from '../helpers/trio.js';

describe('bank: conditional batches across planned failovers', { timeout: 150000 }, () => {
  let trio: Trio;

  before(async () => {
    trio = await Trio.start('bank-failover');
    await trio.cluster.following();
  });

  after(async () => {
    await trio.stop();
  });

  it('no read sees the sum other than 500 while the leader moves A → B → C → A under transfers', async (t) => {
    const { A, B, C, client } = trio;
    const seed = testSeed();
    t.diagnostic(`seed ${seed} (DISTKV_SEED replays the transfers' choices)`);
    await openAccounts(client);
    const readers = new Readers([
      scanReader(A, true),
      respReader(A, false),
      ...[A, B, C].flatMap((m) => [scanReader(m, false), respReader(m, true)]),
    ]);
    const senders = Array.from({ length: 6 }, () => viaClient(client));
    const transfers = new Transfers(client, [...senders, viaNode(B), viaNode(B)], seed, {
      max: 40000,
      maxMs: 120000,
    });
    await underLoad(t, transfers, readers, async () => {
      let applied = 0;
      for (const to of [B, C, A]) {
        applied += 200;
        await transfers.until(applied, 45000);
        const startedAt = Math.round(performance.now());
        const res = await runCli([
          'failover',
          '--url',
          `http://${to}`,
          '--shard',
          'shard-0',
          '--to',
          to,
          '--json',
        ]);
        assert.equal(res.code, 0, res.stderr);
        assert.equal((JSON.parse(res.stdout) as { to: string }).to, to);
        t.diagnostic(
          `leader moved to ${to} after ${transfers.counts.ok} transfers (${startedAt}..${Math.round(performance.now())} ms)`,
        );
      }
      await transfers.until(applied + 200, 45000);
    });
    assert.equal(await leaderSeenBy(B), A);
    assert.equal((await storeOf(A)).role, 'leader');
    await expectSameCopies([A, B, C]);
  });
});
