/**
 * A leader whose writes a planned failover holds answers no reads either, over HTTP or RESP
 * (docs/failover.md, "Planned failover"): the command posts the new map to the target first, and the target takes
 * writes from then on, while the old leader learns the map only from the command's next post (or
 * its peers' poll, up to 2 s later). Reads it served meanwhile from its leader store could be older
 * than a write the new leader had acknowledged. One shard led by A with replicas B and C, each its
 * own process; the failover's steps are taken by hand so that A has not heard of it yet.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { promotedMap } from '../../src/routing/live-map.js';
import { admin, clusterOf, storeOf, waitFor } from '../helpers/failover-model.js';
import { respOf } from '../helpers/resp.js';
import { RespConn } from '../helpers/resp-conn.js';
import { Trio } from '../helpers/trio.js';

let trio: Trio | undefined;
let atB: DistkvClient | undefined;

before(async () => {
  trio = await Trio.start('fenced-reads', { clientNodes: ([a]) => [a] });
  await trio.cluster.following();
});

after(async () => {
  await atB?.close();
  await trio?.stop();
});

describe('reads at a leader held by a planned failover', { timeout: 90000 }, () => {
  it('are refused as SWITCHING_LEADER, so none can miss a write the new leader took', async () => {
    const { A, B, client } = trio!;
    await client.put('fenced-key', 'before');
    await admin(A, '/_admin/fence?shard=0&on=1&ms=30000&by=fenced-reads');
    const atA = await fetch(`http://${A}/kv/fenced-key`);
    const heldText = await atA.text();
    assert.equal(atA.status, 503, `a read at the held leader: ${heldText}`);
    assert.match(heldText, /SWITCHING_LEADER/);
    assert.ok(atA.headers.get('retry-after') !== null);
    const scan = await fetch(`http://${A}/kv?prefix=fenced`);
    const scanText = await scan.text();
    assert.equal(scan.status, 503, `a scan at the held leader: ${scanText}`);
    assert.match(scanText, /SWITCHING_LEADER/);
    const resp = await RespConn.open(respOf(A));
    try {
      const [get] = await resp.send([['GET', 'fenced-key']]);
      assert.match(get!, /^-TRYAGAIN shard 0's leader is being switched/, 'a RESP read at the held leader');
    } finally {
      resp.close();
    }
    await waitFor(
      'B at the leader seq',
      async () => (await storeOf(B)).lastSeq >= (await storeOf(A)).lastSeq,
    );
    // The command's step 3, its first post only: B leads, A has not heard of it yet.
    const base = (await clusterOf(B)).map;
    const next = promotedMap(base, 0, B, base.shards[0]!.epoch + 1, (await storeOf(B)).lastSeq);
    await admin(B, '/_admin/map?by=fenced-reads', JSON.stringify(next));
    atB = new DistkvClient({ urls: [`http://${B}`] });
    await atB.put('fenced-key', 'after');
    const stale = await fetch(`http://${A}/kv/fenced-key`);
    const staleText = await stale.text();
    // A may have heard of the map from its peer poll by now and answer as B's replica, which says
    // so (X-Distkv-Lag); as the held leader it must not answer at all.
    if (stale.status === 200 && stale.headers.get('x-distkv-lag') === null)
      assert.notEqual(staleText, 'before', 'A served a value B had replaced, as its leader');
    // The client's map names A: it waits out the switch and reads at B once a map names it.
    assert.equal(await client.getString('fenced-key'), 'after');
  });
});
