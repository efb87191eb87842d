/**
 * A node's RESP listeners (src/resp/resp-listener.ts, docs/resp.md): one per hosted node, on the
 * port that follows its bound HTTP port by `server.resp_port_offset` (none when it is 0), so
 * `--listen` moves both. They share what their commands see of the node (RespShared): the live
 * shards, the peers the last check found down, the shards whose reads are held or whose leader is
 * behind, whether the node still loads, and one count of client ids and of connections for the
 * process (with the HTTP front door's).
 */
import type { SharedContext } from '../http/context.js';
import { respEndpointOf } from '../resp/resp-address.js';
import { RespListener, type RespShared } from '../resp/resp-listener.js';
import { readsHeld } from './map-keeper.js';

/** RespSources are the parts of the node the RESP listeners read: those the HTTP front door shares too. */
export type RespSources = Pick<
  SharedContext,
  | 'config'
  | 'shardMap'
  | 'liveMap'
  | 'peers'
  | 'slotGate'
  | 'state'
  | 'plan'
  | 'pool'
  | 'log'
  | 'startedAt'
  | 'connections'
  | 'replicaPulls'
>;

/** respListeners makes the RESP listeners of the node `n` hosts (not listening yet: RespListener.listen). */
export function respListeners(n: RespSources): RespListener[] {
  let clientIds = 0;
  const shared: RespShared = {
    config: n.config,
    shardMap: n.shardMap,
    liveShards: () => n.liveMap.shards(),
    liveEpochs: () => new Map(n.liveMap.current.shards.map((s) => [s.idx, s.epoch])),
    // The cluster commands report the peers that did not answer the last check as failed.
    downNodes: () =>
      new Set(
        n.peers
          .view()
          .filter((p) => p.state === 'unreachable')
          .map((p) => p.address),
      ),
    // A key of a down owner asks about it at once: a leader that is back is served within ~1 s.
    checkPeerSoon: (address: string) => {
      n.peers.checkSoon(address);
    },
    // INFO replication: a replica elsewhere that loads a snapshot is listed as resyncing.
    leaderView: (shard: number, replica: string) =>
      n.replicaPulls.view(shard, replica, undefined, n.config.replication.pull_wait_ms),
    leaderWithoutLease: (role: 'leader' | 'replica', idx: number) => n.liveMap.leaderWithoutLease(role, idx),
    readsHeld: (role: 'leader' | 'replica', idx: number) => readsHeld(n.liveMap, role, idx),
    behindError: (idx: number) => n.liveMap.behindError(idx),
    // Until the stores are open and the peers asked, data commands answer -LOADING (DistkvNode.start).
    loading: () => n.state.phase === 'starting',
    replayProgress: () => n.pool.replayProgress(),
    slotGate: n.slotGate,
    plan: n.plan,
    pool: n.pool,
    log: n.log,
    startedAt: n.startedAt,
    nextClientId: () => ++clientIds,
    connections: n.connections,
  };
  const listeners: RespListener[] = [];
  for (const l of n.plan.listeners) {
    // The RESP port follows the bound HTTP port, so --listen moves both.
    const bind = respEndpointOf(
      `${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port}`,
      n.config.server.resp_port_offset,
    );
    if (bind !== undefined) listeners.push(new RespListener(shared, l, bind));
  }
  return listeners;
}
