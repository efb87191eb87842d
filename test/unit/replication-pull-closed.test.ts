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
import { Positions } from '../../src/replication/positions.js';
import { type HostedStore, ReplicationHost } from '../../src/replication/replication-host.js';
import type { Store } from '../../src/storage/store.js';
import type { StoreSpec } from '../../src/worker/messages.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

function leaderSpec(dir: string): StoreSpec {
  return {
    index: 0,
    shard: { idx: 0, name: 'shard-0', first: 0, last: 16383 },
    role: 'leader',
    node: '127.0.0.1:1',
    dir,
    engine: 'lsm',
    durability: 'fsync',
    fsyncIntervalMs: 100,
    lsm: {
      memtableBytes: 1 << 20,
      maxRuns: 4,
      walSegmentBytes: 1 << 20,
      walRetentionBytes: 1 << 20,
      ringBytes: 1 << 20,
    },
    repair: false,
  };
}

async function hostWithLeader(dir: string): Promise<{ host: ReplicationHost; store: Store }> {
  const store = await openTestLsm(dir);
  const hosted = new Map<number, HostedStore>([[0, { spec: leaderSpec(dir), store }]]);
  const host = new ReplicationHost(
    hosted,
    new Positions(new SharedArrayBuffer(Positions.bytesFor(1))),
    undefined,
    () => Promise.reject(new Error('no store is reopened in this test')),
  );
  host.start();
  return { host, store };
}

describe('replication pull from a closing leader', () => {
  it('is refused as UNAVAILABLE (503), not answered with an empty batch at once', async () => {
    const dir = join(tempDir(after), 'leader');
    const { host, store } = await hostWithLeader(dir);
    await store.put(Buffer.from('k'), Buffer.from('v'));
    await store.close();
    const pulled = await host.pull(0, 1, 1 << 20, 60_000, '127.0.0.1:2').then(
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
    await store.put(Buffer.from('k'), Buffer.from('v'));
    const r = await host.pull(0, 1, 1 << 20, 20, '127.0.0.1:2');
    assert.equal(r.records.length, 0);
    assert.equal(r.leaderSeq, 1);
    await store.close();
  });
});
