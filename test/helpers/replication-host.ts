/**
 * A worker's ReplicationHost for a test, without a thread: `testReplicationHost` runs one over the
 * given stores (positions sized for them); `inDir` and `localReplicaSpec` describe its stores from
 * `testStoreSpec` (test/helpers/worker-host.ts): a store in a directory of its own, and a replica
 * following a leader store of the same worker.
 */
import { Positions } from '../../src/replication/positions.js';
import { type HostedStore, ReplicationHost } from '../../src/replication/replication-host.js';
import type { Store } from '../../src/storage/store.js';
import type { StoreSpec } from '../../src/worker/messages.js';
import { testStoreSpec } from './worker-host.js';

/** testReplicationHost is a ReplicationHost over `stores`; `open` reopens a store (a resync), refused by default. */
export function testReplicationHost(
  stores: Map<number, HostedStore>,
  open: (spec: StoreSpec) => Promise<Store> = () =>
    Promise.reject(new Error('no store is reopened in this test')),
): ReplicationHost {
  const positions = new Positions(
    new SharedArrayBuffer(Positions.bytesFor(Math.max(0, ...stores.keys()) + 1)),
  );
  return new ReplicationHost(stores, positions, undefined, open);
}

/** inDir is the test store spec as a store with role `role` in `dir` itself. */
export function inDir(dir: string, role: StoreSpec['role']): StoreSpec {
  return { ...testStoreSpec(dir), dir, role };
}

/** localReplicaSpec is store `index` in `dir`, node `node`, a replica of leader store `leaderStore` on the same worker. */
export function localReplicaSpec(dir: string, index: number, node: string, leaderStore: number): StoreSpec {
  return {
    ...inDir(dir, 'replica'),
    index,
    node,
    replication: {
      leaderAddress: '127.0.0.1:1',
      leaderStore,
      token: '',
      scheme: 'http',
      tlsCa: '',
      pullMaxBytes: 1 << 20,
      pullWaitMs: 50,
      configHash: '',
    },
  };
}
