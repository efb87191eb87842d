/**
 * The bank test (test/helpers/bank.ts) on a three-node cluster (A leads the one shard, B and C
 * replicate it, one process each) at the smallest limits (bank.ts SMALL_LIMITS, WIDE balances:
 * memtables flushed every few transfers, pulls cut at 1 KiB, no log kept for lagging replicas);
 * replica C is stopped for a while, so it comes back through a leader snapshot. Readers at the
 * leader and at each replica must still see every conditional batch whole.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import {
  expectSameCopies,
  openAccounts,
  SMALL_LIMITS,
  Transfers,
  viaClient,
  viaNode,
  WIDE,
} from '../helpers/bank.js';
import { Readers, respReader, scanReader, underLoad } from '../helpers/bank-readers.js';
import { TestCluster } from '../helpers/cluster.js';
import { testSeed } from '../helpers/random.js';
import { freeNodeAddress } from '../helpers/resp.js';

/** StoreStats is the part of a store's /stats entry the test reports. */
interface StoreStats {
  role: string;
  flushes: number;
  compactions: number;
  resyncs?: number;
}

/** storeStats reads the counters of the one store `node` hosts. */
async function storeStats(node: string): Promise<StoreStats> {
  const doc = (await (await fetch(`http://${node}/stats`)).json()) as { stores: StoreStats[] };
  const { role, flushes, compactions, resyncs } = doc.stores[0]!;
  return { role, flushes, compactions, ...(resyncs === undefined ? {} : { resyncs }) };
}

describe(
  'bank: conditional batches with the smallest memtables, log segments, ring and pulls',
  { timeout: 120000 },
  () => {
    let dir = '';
    let cluster: TestCluster;
    let client: DistkvClient;
    let members: string[] = [];

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'distkv-bank-small-'));
      members = await Promise.all(['127.0.0.1', '127.0.0.2', '127.0.0.3'].map((h) => freeNodeAddress(h)));
      const [A, B, C] = members as [string, string, string];
      cluster = await TestCluster.start({
        dir,
        shards: [{ address: A, replicas: [B, C] }],
        extraToml: SMALL_LIMITS,
      });
      await cluster.following();
      client = new DistkvClient({ urls: members.map((m) => `http://${m}`) });
    });

    after(async () => {
      await client.close();
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('every one-step read of the leader and of the replicas sees the sum 500 while memtables flush, pulls are cut short and a replica resyncs', async (t) => {
      const [A, B, C] = members as [string, string, string];
      const seed = testSeed();
      t.diagnostic(`seed ${seed} (DISTKV_SEED replays the transfers' choices)`);
      await openAccounts(client, WIDE);
      const readers = new Readers([
        scanReader(A, true),
        respReader(A, false),
        ...[B, C].flatMap((m) => [scanReader(m, false), respReader(m, true)]),
      ]);
      const senders = [viaClient(client), viaClient(client), viaClient(client), viaClient(client)];
      const transfers = new Transfers(client, [...senders, viaNode(B), viaNode(C)], seed, { width: WIDE });
      // A transfer writes two WIDE balances (about 6 KB): 150 of them fill some 14 memtables and log
      // segments of 64 KiB, so A and B flush many times before C stops, and C, stopped for 150 more,
      // falls behind more than the leader keeps of its log (300 each showed the same in more time).
      // C, back, resyncs again and again while it lags and flushes only between: 300 transfers after
      // its start gave it 10 flushes, 150 gave 3, the least the test asks.
      await underLoad(t, transfers, readers, async () => {
        await transfers.until(150, 45000);
        // C, stopped, falls behind more than the leader keeps of its log: it comes back through a
        // snapshot, and its readers must not see the books while it loads one.
        await cluster.stopNode(C);
        await transfers.until(300, 45000);
        await cluster.startNode(C);
        await transfers.until(600, 45000);
      });
      await expectSameCopies([A, B, C]);
      const stats = await Promise.all(members.map(storeStats));
      t.diagnostic(`stores: ${JSON.stringify(stats)}`);
      assert.ok(
        stats.every((s) => s.flushes >= 3),
        'every member flushed memtables under the load',
      );
      assert.ok((stats[2]!.resyncs ?? 0) >= 1, 'C came back through a snapshot');
    });
  },
);
