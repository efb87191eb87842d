/**
 * HostedReplica: one replica store in a shared commit log, as a worker keeps it, hosted by a
 * ReplicationHost (src/replication/replication-host.ts) that follows a leader in another process
 * over HTTP (a fake one: test/helpers/fake-leader.ts). Its log lines are kept in `lines`. For the
 * tests of a replica's resync on its worker (replica-resync-host, hostile-peer-snapshot-crc).
 */
import { join } from 'node:path';
import { after } from 'node:test';
import pino from 'pino';
import { writeDurableJson } from '../../src/replication/durable-json.js';
import { FOLLOWER_STATES, Positions, SLOT_LAST_SEQ, SLOT_STATE } from '../../src/replication/positions.js';
import { type HostedStore, ReplicationHost } from '../../src/replication/replication-host.js';
import { RESYNC_MARKER } from '../../src/replication/resync-marker.js';
import type { CommitLog } from '../../src/storage/commit-log.js';
import type { StoreSpec } from '../../src/worker/messages.js';
import { attachTestLsm, openTestGroup } from './lsm.js';
import { dump } from './replica-pair.js';
import { localReplicaSpec } from './replication-host.js';
import { tempDir } from './temp-dir.js';

/** HostedReplicaOptions: the replica's own name, the keys it holds of its own, its resync marker. */
export interface HostedReplicaOptions {
  name: string;
  /** ownKeys: it holds mine1..mine`ownKeys` (values x1...) before it follows anyone. */
  ownKeys?: number;
  /** marker: written as its resync marker (src/replication/resync-marker.ts) before it opens. */
  marker?: object;
}

/** HostedReplica is one replica store hosted by a ReplicationHost that follows `leader` over HTTP. */
export class HostedReplica {
  readonly host: ReplicationHost;
  readonly hosted: HostedStore;
  readonly positions = new Positions(new SharedArrayBuffer(Positions.bytesFor(1)));
  readonly lines: string[] = [];
  private readonly log: CommitLog;

  private constructor(log: CommitLog, hosted: HostedStore) {
    this.log = log;
    this.hosted = hosted;
    const logger = pino({ level: 'info' }, { write: (l: string) => this.lines.push(l) });
    this.host = new ReplicationHost(new Map([[0, hosted]]), this.positions, logger, (s) =>
      attachTestLsm(this.log, s.dir, { memtableBytes: 8 << 20 }),
    );
    // What the worker publishes when it opens a store (src/worker/worker-stores.ts).
    this.positions.set(0, SLOT_LAST_SEQ, hosted.store.lastSeq());
  }

  /** open opens the replica of the leader at `leader` (host:port), in a temp dir removed after the file's tests. */
  static async open(leader: string, o: HostedReplicaOptions): Promise<HostedReplica> {
    const root = tempDir(after);
    const local = localReplicaSpec(join(root, 'replica'), 0, o.name, 0);
    // Its leader is in another process, over HTTP.
    const spec: StoreSpec = {
      ...local,
      replication: { ...local.replication!, leaderAddress: leader, leaderStore: undefined },
    };
    const { log, stores } = await openTestGroup(join(root, 'log'), [spec.dir], { memtableBytes: 8 << 20 });
    const store = stores[0]!;
    for (let i = 1; i <= (o.ownKeys ?? 0); i++)
      await store.put(Buffer.from(`mine${i}`), Buffer.from(`x${i}`));
    if (o.marker !== undefined) writeDurableJson(join(spec.dir, RESYNC_MARKER), o.marker);
    return new HostedReplica(log, { spec, store });
  }

  /** state is the follower's state as the worker publishes it. */
  get state(): string {
    return FOLLOWER_STATES[this.positions.get(0, SLOT_STATE)] ?? '?';
  }

  /** served is what the replica serves: its keys and values as JSON, or the error it answers. */
  served(): string {
    try {
      return JSON.stringify(dump(this.hosted.store));
    } catch (err) {
      return (err as Error).message;
    }
  }

  /** holds says whether the replica serves `keys` exactly (it may be a ResyncingStore: then it does not). */
  holds(keys: { key: Buffer; value: Buffer }[]): boolean {
    const want = keys.map((e) => [e.key.toString('latin1'), e.value.toString('latin1')]);
    return this.served() === JSON.stringify(want);
  }

  async close(): Promise<void> {
    await this.host.stop();
    await this.hosted.store.close();
    await this.log.close();
  }
}
