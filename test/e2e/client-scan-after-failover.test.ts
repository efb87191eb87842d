/**
 * A client's scan right after a forced failover of a dead leader (docs/api.md, "Retries"): the
 * client's map names the old leader A, killed; `distkv failover --force` made B the leader. The
 * scan went to A, retried A alone, and rejected with SHARD_UNREACHABLE (the client's next call
 * worked, with the map that rejection loaded). It now looks for the newest map and asks the leader
 * it names: the page holds every acknowledged write, read at the leader (no replica lag).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { failover } from '../../src/cli/failover.js';
import { Trio } from '../helpers/trio.js';

let trio: Trio | undefined;

before(async () => {
  trio = await Trio.start('scan-after-failover');
  await trio.cluster.following();
});

after(async () => {
  await trio?.stop();
});

describe('a scan after a failover its client did not see', { timeout: 120000 }, () => {
  it('reads the new leader, not the dead old one', async () => {
    const { A, B, C, cluster, client } = trio!;
    const keys = Array.from({ length: 20 }, (_, i) => `sf-${String(i).padStart(2, '0')}`);
    for (const k of keys) await client.put(k, `v-${k}`, { w: 2 });
    assert.equal(client.liveMapVersion, 1);
    await cluster.kill(A);
    const r = await failover({
      urls: [`http://${B}`, `http://${C}`],
      shard: 'shard-0',
      to: B,
      force: true,
      token: '',
      timeoutMs: 20000,
    });
    assert.equal(r.to, B);
    assert.equal(client.liveMapVersion, 1, 'the client still routes with the map from before the failover');
    const page = await client.scanPage('sf-', { limit: 100 });
    assert.deepEqual(
      page.items.map((i) => [i.key, i.value.toString(), i.replicaLag]),
      keys.map((k) => [k, `v-${k}`, undefined]),
    );
    const version: number = client.liveMapVersion;
    assert.ok(version > 1, 'the scan loaded the newer map');
  });
});
