/**
 * The bank test (test/helpers/bank.ts) on a three-node cluster, one process per node: node A leads
 * the one shard, B and C replicate it. Transfers are conditional batches, half through the client
 * library (to the leader), half posted to B and C, which do not own the shard and forward each
 * batch whole (docs/api.md, "Batches with conditions"). Readers read all five accounts in one step
 * at the leader and at each replica (scan page at the replica's address, MGET after READONLY):
 * every read must see the books balanced, and at the end every member holds the leader's content.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { expectSameCopies, openAccounts, Transfers, viaClient, viaNode } from '../helpers/bank.js';
import { clientScanReader, Readers, respReader, scanReader, underLoad } from '../helpers/bank-readers.js';
import { storeOf } from '../helpers/failover-model.js';
import { testSeed } from '../helpers/random.js';
import { Trio } from '../helpers/trio.js';

describe('bank: conditional batches on a three-node cluster', { timeout: 120000 }, () => {
  let trio: Trio;

  before(async () => {
    trio = await Trio.start('bank-cluster');
    await trio.cluster.following();
  });

  after(async () => {
    await trio.stop();
  });

  it('batches forwarded by nodes that do not own the shard apply whole: every read of the leader and of the replicas on other nodes sees the sum 500', async (t) => {
    const { A, B, C, client } = trio;
    const seed = testSeed();
    t.diagnostic(`seed ${seed} (DISTKV_SEED replays the transfers' choices)`);
    const replicaClient = new DistkvClient({ urls: [`http://${B}`, `http://${C}`], replicaReads: true });
    await openAccounts(client);
    const readers = new Readers([
      scanReader(A, true),
      scanReader(B, false),
      scanReader(C, false),
      respReader(A, false),
      respReader(B, true),
      respReader(C, true),
      clientScanReader(replicaClient, 'client scanPage with replicaReads'),
    ]);
    const senders = [viaClient(client), viaClient(client), viaClient(client), viaClient(client)];
    const transfers = new Transfers(
      client,
      [...senders, viaNode(B), viaNode(B), viaNode(C), viaNode(C)],
      seed,
    );
    try {
      // 500 transfers, not 1000: a replica yielding between a pull's records (a bug injected in
      // dist/) showed 184 unbalanced reads in a run of 500, where one fails the test; the loop's
      // transfers and the readers' samples are most of this file's ~38 s of CPU. At least 200 in
      // the 45 s: a fresh-clone run sharing the machine with other test runs applied 275 (300
      // failed it); 200 still spans the replicas' pulls many times over.
      await underLoad(t, transfers, readers, () => transfers.until(500, 45000, 200));
    } finally {
      await replicaClient.close();
    }
    assert.ok(
      transfers.applied.slice(4).every((n) => n > 0),
      `every loop posting to a node that does not own the shard applied transfers: ${transfers.applied.join(' ')}`,
    );
    assert.equal((await storeOf(A)).role, 'leader');
    await expectSameCopies([A, B, C]);
  });
});
