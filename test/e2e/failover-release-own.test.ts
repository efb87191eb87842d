/**
 * A failover's release acts only on what the same failover (`by`) held (docs/failover.md, "Who
 * holds a shard"). One shard led by A with replicas B and C, each its own process, no coordinator.
 *
 * Failover Y holds A's writes; the leader moves to B meanwhile (Y lost: its command then releases
 * what it held, by its name, at A). A is B's replica by then, and its replica store is held by
 * someone else, Z (here another failover's claim; with etcd, the coordinator's hold while the
 * shard's leader key is missing: follow-holds.ts). Before: the replica branch of `/_admin/fence`
 * took Y's release as a release of the replica's following, ended Z's hold, and A followed B again
 * while Z counted on its position staying put. Now the release answers `acted: false` and the hold
 * stays until Z releases it (or it runs out).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DistkvClient } from '../../src/client/client.js';
import { promotedMap } from '../../src/routing/live-map.js';
import { Load, admin, clusterOf, storeOf, waitFor } from '../helpers/failover-model.js';
import { Trio } from '../helpers/trio.js';

describe("a failover's release of a hold it no longer has", { timeout: 120000 }, () => {
  let trio: Trio;
  let client: DistkvClient;
  let A = '';
  let B = '';
  let C = '';

  before(async () => {
    trio = await Trio.start('failover-release-own');
    ({ client, A, B, C } = trio);
    await trio.preload();
  });

  after(async () => {
    await trio.stop();
  });

  it("leaves the demoted leader's replica held by another (acted: false) and it stays put", async () => {
    await admin(A, '/_admin/fence?shard=0&on=1&ms=30000&by=failover-Y');
    await waitFor(
      'B at the leader seq',
      async () => (await storeOf(B)).lastSeq >= (await storeOf(A)).lastSeq,
    );
    // Another change moves the leader to B (as a failover that won would); A learns it from B.
    const base = (await clusterOf(B)).map;
    const next = promotedMap(base, 0, B, base.shards[0]!.epoch + 1, (await storeOf(B)).lastSeq);
    await admin(B, '/_admin/map?by=failover-W', JSON.stringify(next));
    await waitFor('A to follow B', async () => (await storeOf(A)).role === 'replica');
    await waitFor('A to catch up', async () => (await storeOf(A)).lastSeq >= (await storeOf(B)).lastSeq);
    // Z holds A's replica store; then Y's release arrives there.
    await admin(A, '/_admin/fence?shard=0&on=1&ms=30000&by=failover-Z');
    const held = (await storeOf(A)).lastSeq;
    const r = await admin(A, '/_admin/fence?shard=0&on=0&by=failover-Y');
    // Writes at B that C copies; A, still held, copies none of them.
    const load = new Load(client, 'after', 2, 100, 1);
    await load.until(50);
    await load.stop();
    const leaderSeq = (await storeOf(B)).lastSeq;
    assert.ok(leaderSeq > held, `B took writes (${leaderSeq} > ${held})`);
    await waitFor('C to reach B', async () => (await storeOf(C)).lastSeq >= leaderSeq);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await storeOf(A)).lastSeq, held, 'A stays held at its seq until Z releases it');
    assert.equal(r.acted, false, `Y's release found nothing of Y's: ${JSON.stringify(r)}`);
    // Z's own release ends it: A follows again.
    const z = await admin(A, '/_admin/fence?shard=0&on=0&by=failover-Z');
    assert.equal(z.acted, true);
    await waitFor('A to follow again', async () => (await storeOf(A)).lastSeq >= leaderSeq);
  });
});
