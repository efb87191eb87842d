/**
 * The bank test (test/helpers/bank.ts) on one process serving the default layout: four shards led
 * by node A, their replicas in the same process at node B (config/default.toml), on one worker
 * and on two (a replica then runs on another worker than its leader). Transfers are conditional batches through the
 * client library; readers read all five accounts in one step at the leader (scan pages, MGET, the
 * client's scanPage) and at the replica (MGET after READONLY at B; a scan at B reads the leader in
 * this process): every read must see the books balanced (docs/api.md, "Batches with conditions":
 * readers of the leader and of a replica see all of such a batch or none of it), and at the end
 * the replica reads what the leader reads.
 */
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { openAccounts, SMALL_LIMITS, Transfers, viaClient, WIDE } from '../helpers/bank.js';
import {
  clientScanReader,
  expectSameAccounts,
  Readers,
  respReader,
  scanReader,
  underLoad,
} from '../helpers/bank-readers.js';
import { testSeed } from '../helpers/random.js';
import { freeNodeAddress } from '../helpers/resp.js';
import { type OwnServer, startOwnServer } from '../helpers/server-process.js';

/**
 * The cases: on one worker, each replica shares its leader's commit log and is fed its batches
 * (local-source.ts); on two, it runs on the other worker and reads its leader's batches from a ring
 * (ring-source.ts); with the smallest limits (SMALL_LIMITS), balances of WIDE digits lap that ring,
 * so the replica catches up through 1 KiB HTTP pulls between ring reads, while memtables flush.
 */
const CASES = [
  { workers: 1, small: false },
  { workers: 2, small: false },
  { workers: 2, small: true },
];

for (const { workers, small } of CASES) {
  const width = small ? WIDE : 1;
  describe(
    `bank: conditional batches on one node with in-process replicas, ${workers} worker(s)${small ? ', smallest limits' : ''}`,
    { timeout: 120000 },
    () => {
      let server: OwnServer;
      let client: DistkvClient;
      let replicaClient: DistkvClient;
      let A = '';
      let B = '';

      before(async () => {
        [A, B] = await Promise.all([freeNodeAddress('127.0.0.1'), freeNodeAddress('127.0.0.2')]);
        const layout = Array.from({ length: 4 }, () => ({ address: A, replicas: [B] }));
        server = await startOwnServer(layout, small ? SMALL_LIMITS : '', ['--workers', String(workers)], {
          DISTKV_LOG_LEVEL: 'warn',
        });
        client = new DistkvClient({ urls: [`http://${A}`] });
        replicaClient = new DistkvClient({ urls: [`http://${A}`], replicaReads: true });
      });

      after(async () => {
        await client.close();
        await replicaClient.close();
        await server.stop();
      });

      it('every one-step read of the leader and of its replica sees the sum 500, and the copies end equal', async (t) => {
        const seed = testSeed();
        t.diagnostic(`seed ${seed} (DISTKV_SEED replays the transfers' choices)`);
        await openAccounts(client, width);
        const readers = new Readers([
          scanReader(A, true),
          scanReader(B, false), // served by the leader in this process, as A serves it (docs/api.md)
          respReader(A, false),
          respReader(B, true),
          clientScanReader(client, 'client scanPage'),
          clientScanReader(replicaClient, 'client scanPage with replicaReads'),
        ]);
        const transfers = new Transfers(
          client,
          Array.from({ length: 8 }, () => viaClient(client)),
          seed,
          { width },
        );
        // 300 transfers, not 600: with bugs injected in dist/, runs of 300 showed 29 unbalanced
        // reads on one worker (a fed part applied in two turns) and 43 and 49 on two (a replica
        // yielding between a pull's records), where one fails the test.
        await underLoad(t, transfers, readers, () => transfers.until(300, 45000, 200));
        // Only the accounts are written: B's replicas hold the leader's copy when B's READONLY MGET
        // reads what A's MGET reads (a scan at B would read the leader, which runs in this process:
        // docs/api.md, "a node reads each shard from its leader in this process").
        const ends = [respReader(A, false), respReader(B, true)];
        try {
          await expectSameAccounts(ends);
        } finally {
          for (const r of ends) r.close();
        }
      });
    },
  );
}
