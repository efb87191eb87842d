/**
 * The graceful stop of a node (DistkvNode.stop, node.ts), in this order: with a coordinator, hand
 * the led shards over to a replica (drain-handover.ts), give the leases back and wait for the
 * clients to leave (CLIENTS_GONE_MS); stop accepting;
 * answer the replicas' parked pulls at once; end the watch streams (`resume`, draining) and their
 * feeds' parked polls (src/util/stop-wakes.ts); let in-flight requests finish and idle keep-alive
 * connections be answered (bounded); end peer checks and map adoptions (they write the data
 * directory); close stores (flush + fsync); end workers; remove the running mark; release the lock.
 *
 * Bound: it returns within DRAIN_LIMIT_MS (the handover's wait included) plus the time to close the
 * stores; with a coordinator, plus its wait for the new leaders (3 lease TTLs, at most 3 s:
 * successor-wait.ts) and CLIENT_LOOK_MS. The running mark stays when a store's final flush or
 * sync failed (run-marker.ts).
 */
import type { Logger } from 'pino';
import type { EtcdCoordinator } from '../coordination/etcd-coordinator.js';
import type { NodeState } from '../http/context.js';
import type { Forwarder } from '../http/forwarder.js';
import type { FrontDoor } from '../http/front-door.js';
import type { RespListener } from '../resp/resp-listener.js';
import { WatchHub } from '../watch/watch-hub.js';
import type { DataDirLock } from './data-dir-lock.js';
import { handOverLeads } from './drain-handover.js';
import type { MapKeeper } from './map-keeper.js';
import type { NodePlan } from './node-plan.js';
import type { PeerCheck } from './peer-check.js';
import type { RunMarker } from './run-marker.js';
import type { WorkerPool } from './worker-pool.js';

/** DRAIN_LIMIT_MS bounds how long stop() waits for in-flight requests. */
export const DRAIN_LIMIT_MS = 3000;
/**
 * DRAIN_QUIET_MS is how long a stop keeps idle keep-alive connections open after the last request
 * it refused with DRAINING: beyond a round trip and a busy client's turn, so that a request sent
 * as the stop began gets an answer.
 */
const DRAIN_QUIET_MS = 100;
/**
 * CLIENTS_GONE_MS: with a coordinator, the stop closes its listener once no request has started
 * for this long: three of the 100 ms waits of a client waiting out DRAINING (src/client/sender.ts).
 */
const CLIENTS_GONE_MS = 300;
/** CLIENT_LOOK_MS is how long a client waiting out DRAINING may take to look for a newer map (the client's NEWEST_LOOK_MS, and a turn). */
const CLIENT_LOOK_MS = 1200;

/** DrainingNode is what a stop shuts down: the parts of a started DistkvNode. */
export interface DrainingNode {
  state: NodeState;
  plan: NodePlan;
  pool: WorkerPool;
  liveMap: MapKeeper;
  frontDoor: FrontDoor;
  resp: readonly RespListener[];
  peers: PeerCheck;
  coordinator: Pick<EtcdCoordinator, 'stop'> | undefined;
  forwarder: Forwarder;
  marker: RunMarker | undefined;
  lock: DataDirLock | undefined;
  log: Logger;
}

/** quietMs is how long no request or command has come on either front door since they stopped accepting. */
function quietMs(n: DrainingNode): number {
  return Math.min(n.frontDoor.quietMs(), ...n.resp.map((r) => r.quietMs()));
}

/** drainNode stops `n` gracefully (the order and bound above). */
export async function drainNode(n: DrainingNode): Promise<void> {
  n.state.phase = 'draining';
  n.frontDoor.trackStarts();
  // The handover's wait counts against the drain limit: stop() stays within it.
  let deadline = performance.now() + DRAIN_LIMIT_MS;
  for (const r of n.resp) r.stopAccepting();
  // With a coordinator a replica takes each shard over once the lease goes: the leaders hold
  // their writes and a replica catches up first (its pulls are still served), so it takes over
  // with every write acknowledged here (drain-handover.ts). Then the lease goes, at once.
  if (n.coordinator !== undefined) {
    const handed = await handOverLeads(n.plan, n.pool, n.liveMap.current, n.log);
    await n.coordinator.stop(handed.filter((h) => h.caughtUp).map((h) => h.shard));
    // The stop waited for etcd to name the new leaders (successor-wait.ts): the clients waiting
    // out DRAINING here look for that map about once a second (src/client/sender.ts), so the
    // drain gives them that long to leave before it cuts their connections.
    deadline = Math.max(deadline, performance.now() + CLIENT_LOOK_MS);
    // The listener stays open until they have left (no request for CLIENTS_GONE_MS; every 503
    // DRAINING closes its connection, route.ts), bounded by that deadline. Closed at once, it
    // reset the connections the kernel had accepted for it and it had not taken yet: a client
    // retrying every 100 ms connected, sent its write and lost it, a write of unknown outcome.
    while (n.frontDoor.sinceStartMs() < CLIENTS_GONE_MS && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
  }
  n.frontDoor.close();
  // Replicas in other processes long-poll their pulls (replication.pull_wait_ms): the stop no
  // longer waits those out. Once the writes accepted settle, the workers answer every parked pull
  // with what the log holds, and later pulls at once, closing their connections
  // (src/util/stop-wakes.ts). With a coordinator this comes after the handover, whose
  // pulls must bring a replica the last seq. The loop below waits for those answers.
  void n.pool.endPulls();
  // Watch streams end now with `resume` (reason `draining`), and the workers answer their feeds'
  // parked polls at once: the loop below waits for every call in flight, and waited for the
  // hub's next heartbeat, then for those polls to run out (src/util/stop-wakes.ts). After the
  // front door's close, so that each stream's connection closes once its `resume` is written
  // (Http1Connection.serverStopping): the client's next try is refused by the stopped listener
  // rather than answered 503 on it, a request that kept the stop's quiet wait from ending. With a
  // coordinator the hub's heartbeat ends the streams during the handover, as the node drains.
  void WatchHub.find(n.pool)?.end();
  n.log.info({ in_flight: n.state.inFlight }, 'draining: stopped accepting connections');
  // Connections with nothing pending stay open until no request has started for DRAIN_QUIET_MS:
  // a request a keep-alive client sent as the stop began is answered 503 DRAINING (not
  // executed: sent again) rather than cut off unanswered (http1-connection.ts, serverStopping).
  // RESP's idle connections alike: such a command gets -TRYAGAIN (RespConnection, "Shutdown").
  while (
    (n.state.inFlight > 0 || n.pool.inFlight > 0 || quietMs(n) < DRAIN_QUIET_MS) &&
    performance.now() < deadline
  ) {
    await new Promise((r) => setTimeout(r, 10));
  }
  n.frontDoor.endIdle();
  for (const r of n.resp) r.endIdle();
  if (n.state.inFlight > 0)
    n.log.warn(
      { in_flight: n.state.inFlight },
      'drain limit reached; closing stores with requests in flight',
    );
  // Peer checks (and POST /_admin/map) adopt live maps, which are saved into the data directory
  // and turn stores over: they end before the stores close and the lock is released.
  await n.peers.stop();
  await n.liveMap.settled();
  n.frontDoor.destroyConnections();
  n.frontDoor.closeLogs();
  // A store whose final flush or sync failed may have lost what it showed: the marker stays.
  if (await n.pool.stop()) n.marker?.close(n.log);
  for (const r of n.resp) r.close();
  n.lock?.release();
  await n.forwarder.close();
  n.log.info('stores closed; stopped');
}
