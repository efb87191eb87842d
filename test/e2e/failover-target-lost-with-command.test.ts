/**
 * A planned failover whose command and target die together (one host lost) once the old leader
 * took the new map: the order `distkv failover` posts it in (the old leader first,
 * test/unit/failover-map-order.test.ts) rests on what the nodes do then, checked here on real
 * processes. One shard led by A with replicas B and C; the command's requests are made by hand
 * up to the map posted to A (a test cannot stop the command between two of its own requests),
 * then B is killed. A's hold runs out, but A follows B and takes no write in its old epoch; B,
 * started again, takes the map from its peers and leads; nothing acknowledged is lost and A cuts
 * nothing into a divergence file. With the target given the map first, A's writes after its hold
 * ran out were what B's epoch discarded.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DistkvClient } from '../../src/client/client.js';
import { highestEpoch, nextEpoch } from '../../src/routing/epoch-numbers.js';
import { promotedMap } from '../../src/routing/live-map.js';
import type { TestCluster } from '../helpers/cluster.js';
import {
  admin,
  clusterOf,
  divergedOf,
  expectConverged,
  Load,
  putAt,
  storeOf,
  waitFor,
} from '../helpers/failover-model.js';
import { Trio } from '../helpers/trio.js';

/** HOLD_MS is the holds' limit: short, so A's runs out during the test. */
const HOLD_MS = 2000;
const BY = 'failover-test-lost';

describe(
  'a planned failover whose command and target die once the old leader took the map',
  { timeout: 120000 },
  () => {
    let trio: Trio;
    let cluster: TestCluster;
    let client: DistkvClient;
    let A = '';
    let B = '';
    let C = '';
    const acked = new Map<string, string>();

    before(async () => {
      trio = await Trio.start('failover-target-lost');
      ({ cluster, client, A, B, C } = trio);
      for (const [k, v] of await trio.preload()) acked.set(k, v);
    });

    after(async () => {
      await trio.stop();
    });

    it('leaves A following B, and B leads once it is back', async () => {
      const base = (await clusterOf(A)).map;
      const live = base.shards[0]!;
      const fence = async (node: string) =>
        (await admin(node, `/_admin/fence?shard=0&on=1&ms=${HOLD_MS}&by=${BY}`)).last_seq as number;
      const L = await fence(A);
      await waitFor(`B to reach seq ${L}`, async () => (await storeOf(B)).lastSeq >= L);
      const seqB = await fence(B);
      await fence(C);
      const epoch = nextEpoch(live, B, highestEpoch(live));
      const next = promotedMap(base, 0, B, epoch, seqB);
      await admin(A, `/_admin/map?by=${BY}`, JSON.stringify(next));
      await cluster.kill(B);

      // A's hold has run out: it follows the dead B, and takes no write in its old epoch.
      await new Promise((r) => setTimeout(r, HOLD_MS + 1000));
      assert.equal((await clusterOf(A)).shards[0]!.leader.address, B, "A's map names B");
      assert.notEqual(await putAt(A, 'after-hold'), 200, 'A takes no write once its hold ran out');
      assert.equal((await storeOf(A)).lastSeq, L, 'A wrote nothing past L');

      await cluster.startNode(B);
      await waitFor('B to lead', async () => (await clusterOf(B)).shards[0]!.leader.address === B);
      const load = new Load(client, 'after', 2, 50, 2);
      await load.until(20);
      await load.stop();
      for (const [k, v] of load.acked) acked.set(k, v);
      await expectConverged(client, [A, B, C], B, acked);
      assert.equal((await divergedOf(A)).records, 0, 'A cut nothing into a divergence file');
    });
  },
);
