/**
 * Which transport a replica follows its leader through (docs/architecture.md, "Replication"): the
 * leader's SharedArrayBuffer ring when the leader is on another worker of this process and gave the
 * replica one (with HTTP as its fallback), the leader store itself when it is on this worker
 * (LocalSource), or the leader's node over HTTP otherwise.
 */
import type { ReplicaSpec, StoreSpec } from '../worker/messages.js';
import type { StoreReplication } from '../storage/store-replication.js';
import { epochsOf, type ShardEpochs } from './epochs.js';
import { HttpSource } from './http-source.js';
import { LocalSource } from './local-source.js';
import { type Positions, SLOT_LAST_SEQ } from './positions.js';
import { RingConsumer } from './ring.js';
import { RingSource } from './ring-source.js';
import type { OnPullRefused, ReplicationSource } from './source.js';

/** LocalLeader is the replica's leader store when it is on this worker. */
export interface LocalLeader {
  /** replication is the leader's seam as the worker hosts it now (undefined while it is not open). */
  replication(): StoreReplication | undefined;
  epochs(): ShardEpochs;
}

/**
 * replicaSource is the source replica `spec`, replicating per `r`, follows through (see above); the
 * refusals of its pulls over HTTP go to `refused`, naming the leader's node.
 */
export function replicaSource(
  spec: StoreSpec,
  r: ReplicaSpec,
  positions: Positions,
  localLeader: LocalLeader | undefined,
  refused?: OnPullRefused,
): ReplicationSource {
  const http = (): HttpSource =>
    new HttpSource({
      leader: r.leaderAddress,
      shard: spec.shard.idx,
      replica: spec.node,
      token: r.token,
      scheme: r.scheme,
      caFile: r.tlsCa,
      configHash: r.configHash,
      copy: { idx: spec.shard.idx, name: spec.shard.name, first: spec.shard.first, last: spec.shard.last },
      ...(refused === undefined
        ? {}
        : {
            refused: (code: string) => {
              refused(r.leaderAddress, code);
            },
          }),
    });
  const leaderStore = r.leaderStore;
  if (leaderStore === undefined) return http();
  if (r.ring !== undefined)
    return new RingSource(
      new RingConsumer(r.ring),
      http(),
      `ring from store ${String(leaderStore)}`,
      () => positions.get(leaderStore, SLOT_LAST_SEQ),
      () => epochsOf(spec),
    );
  if (localLeader !== undefined)
    return new LocalSource(
      () => localLeader.replication(),
      `local store ${leaderStore}`,
      () => localLeader.epochs(),
      spec.shard,
      r.leaderWatched === true,
    );
  return http();
}
