/**
 * `/_repl/pull` on a leader store that is closing (src/replication/replication-host.ts): its log
 * wait ends at once with nothing, and answered as "no records yet" (204) the replica would pull
 * again at once, in a loop. It must answer as an unavailable leader does (UNAVAILABLE, 503), which
 * the follower backs off on.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DistkvError } from '../../src/errors.js';
import type { HostedStore, ReplicationHost } from '../../src/replication/replication-host.js';
import type { Store } from '../../src/storage/store.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';
import { inDir, testReplicationHost } from '../helpers/replication-host.js';

const REPLICA = '127.0.0.1:2';

/**
 * hostWithLeader runs a leader store holding one record, which replica REPLICA has pulled: its
 * position 1 is then one this leader served (a first position above what a leader held at its
 * start is answered with a fork, src/replication/leader-state.ts).
 */
async function hostWithLeader(dir: string): Promise<{ host: ReplicationHost; store: Store }> {
  const store = await openTestLsm(dir);
  const host = testReplicationHost(
    new Map<number, HostedStore>([[0, { spec: inDir(dir, 'leader'), store }]]),
  );
  host.start();
  await store.put(Buffer.from('k'), Buffer.from('v'));
  await host.pull(0, 0, 1 << 20, 0, REPLICA);
  return { host, store };
}

describe('replication pull from a closing leader', () => {
  it('is refused as UNAVAILABLE (503), not answered with an empty batch at once', async () => {
    const dir = join(tempDir(after), 'leader');
    const { host, store } = await hostWithLeader(dir);
    await store.close();
    const pulled = await host.pull(0, 1, 1 << 20, 60_000, REPLICA).then(
      (r) => r,
      (err: unknown) => err,
    );
    assert.ok(
      pulled instanceof DistkvError,
      `a pull of a closed leader is refused, not ${JSON.stringify(pulled)}`,
    );
    assert.equal(pulled.code, 'UNAVAILABLE');
    assert.equal(pulled.status, 503);
  });

  it('still answers an open leader with nothing new as an empty batch once the wait ends', async () => {
    const dir = join(tempDir(after), 'leader');
    const { host, store } = await hostWithLeader(dir);
    const r = await host.pull(0, 1, 1 << 20, 20, REPLICA);
    assert.equal(r.records.length, 0);
    assert.equal(r.leaderSeq, 1);
    await store.close();
  });
});
