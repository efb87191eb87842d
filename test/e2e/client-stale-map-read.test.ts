/**
 * A client whose map predates a failover reads at the old leader, now a replica of the shard
 * (docs/api.md, "Retries (client library)"): the library reads leaders unless made with
 * `replicaReads`, so it must not hand back what that replica served (marked by X-Distkv-Lag) as
 * the leader's answer: it may lack writes the new leader acknowledged. The linearizability
 * scenario across planned failovers (lin-planned-failover.test.ts) found it: a read returned a
 * value older than one a write through the new leader had replaced before the read was sent.
 * Here the old leader's following is held, so its replica is stale for certain.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { failover } from '../../src/cli/failover.js';
import { Trio } from '../helpers/trio.js';

let trio: Trio | undefined;
let fresh: DistkvClient | undefined;

before(async () => {
  trio = await Trio.start('stale-map-read', { clientNodes: ([a]) => [a] });
  await trio.cluster.following();
});

after(async () => {
  await fresh?.close();
  await trio?.stop();
});

describe('a read by a client with a map older than a failover', { timeout: 90000 }, () => {
  it('reads the new leader, not the old leader that now serves from its stale replica', async () => {
    const { A, B, client } = trio!;
    await client.put('stale-key', 'before');
    assert.equal(await client.getString('stale-key'), 'before');
    const r = await failover({
      urls: [`http://${B}`],
      shard: 'shard-0',
      to: B,
      force: false,
      token: '',
      timeoutMs: 20000,
    });
    assert.equal(r.to, B);
    // A now follows B: hold its following, so its replica keeps the value from before.
    const held = await fetch(`http://${A}/_admin/fence?shard=0&on=1&ms=30000&by=stale-read`, {
      method: 'POST',
    });
    const hold = await held.text();
    assert.equal(held.status, 200, hold);
    assert.equal((JSON.parse(hold) as { role: string }).role, 'replica', hold);
    fresh = new DistkvClient({ urls: [`http://${B}`] });
    await fresh.put('stale-key', 'after');
    const stale = client.liveMapVersion;
    assert.equal(stale, 1, 'the client still routes with the map from before the failover');
    const got = await client.getVersioned('stale-key');
    assert.equal(got?.value.toString(), 'after', 'the write the new leader acknowledged is read');
    assert.equal(got.lag, undefined, 'the leader served it');
    assert.ok(client.liveMapVersion > stale, 'the client moved to the newer map');
    const release = await fetch(`http://${A}/_admin/fence?shard=0&on=0&by=stale-read`, { method: 'POST' });
    assert.equal(release.status, 200, await release.text());
  });
});
