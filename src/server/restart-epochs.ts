/**
 * Restart epochs: a node whose last run stopped uncleanly in a lossy durability mode
 * (run-marker.ts, `lossy`) starts a new epoch for every shard it leads, at its store's recovered
 * last seq + 1 (docs/failover.md, "A leader restarting after a crash").
 *
 * Why: the lost run's stores showed records to replicas and watchers that the crash may have
 * taken from their logs; the restarted store gives those seqs to other writes. In the same epoch,
 * a replica's position or a watcher's cursor naming a lost record would name a different one now.
 * In a new epoch starting just above what the store recovered, it fails the epoch checks every
 * failover relies on: a replica is cut back to the fork point (its lost records saved to a
 * divergence file), a watcher's resume gets a snapshot.
 *
 * How: exactly as a promotion (`promotedMap`, with the leader unchanged): the store's writes are
 * held at its worker (`fence`, which answers its last seq once its writes in flight settled), a
 * live map with the epochs raised is adopted (MapKeeper), and the store's turn to the new epoch
 * releases the hold. Without a coordinator the node adopts the map itself, before it serves, and
 * its peers learn it as any map (their peer checks of `/cluster`, every 2 s). With etcd the epoch is
 * allocated there, when the node takes its leader key (src/coordination/self-promotion.ts).
 */
import type { Logger } from 'pino';
import { nextEpoch } from '../routing/epoch-numbers.js';
import { type LiveMap, promotedMap } from '../routing/live-map.js';
import type { MapKeeper } from './map-keeper.js';
import type { NodePlan } from './node-plan.js';
import type { WorkerPool } from './worker-pool.js';

/** RESTART_SOURCE names, in the keeper's log, a map adopted to start restart epochs. */
export const RESTART_SOURCE = 'restart after an unclean stop';

type Store = NodePlan['stores'][number];

/**
 * holdLeader holds leader store `st`'s writes and resolves with its last seq, or undefined when
 * its worker does not answer with one; `release` lets them go again (when no new epoch came).
 */
export async function holdLeader(pool: WorkerPool, st: Store): Promise<number | undefined> {
  const r = await pool.call(st.worker, { type: 'fence', store: st.index, on: true });
  return r.type === 'fence-result' ? r.lastSeq : undefined;
}

/** releaseLeader lets leader store `st` take writes again after `holdLeader` (no new epoch). */
export async function releaseLeader(pool: WorkerPool, st: Store): Promise<void> {
  await pool.call(st.worker, { type: 'fence', store: st.index, on: false });
}

/**
 * restartedMap is `base`'s successor in which each shard of `starts` (idx → last seq) has a new
 * epoch after that seq, marked a restart (a failover made meanwhile beats it: `mergedMap`), its
 * number naming its leader (`nextEpoch`: never the number a failover made meanwhile picked).
 */
export function restartedMap(base: LiveMap, starts: ReadonlyMap<number, number>): LiveMap {
  let next = base;
  for (const [idx, last] of starts) {
    const s = next.shards.find((x) => x.idx === idx);
    if (s === undefined) continue;
    next = promotedMap(next, idx, s.leader, nextEpoch(s, s.leader), last);
    next.shards = next.shards.map((x) =>
      x.idx !== idx
        ? x
        : { ...x, history: x.history.map((h, i) => (i < s.history.length ? h : { ...h, restart: true })) },
    );
  }
  return { ...next, version: base.version + 1 };
}

/**
 * startRestartEpochs starts a new epoch for every shard whose leader store this process hosts
 * (without a coordinator: see above). Resolves once the map is adopted (or nothing was to do).
 */
export async function startRestartEpochs(
  keeper: MapKeeper,
  plan: NodePlan,
  pool: WorkerPool,
  log: Logger,
): Promise<void> {
  const leaders = plan.stores.filter(
    (st) => st.role === 'leader' && pool.storeFailure(st.index) === undefined,
  );
  const starts = new Map<number, number>();
  const held: Store[] = [];
  let adopted = false;
  try {
    for (const st of leaders) {
      const last = await holdLeader(pool, st);
      held.push(st);
      if (last !== undefined) starts.set(st.shard.idx, last);
    }
    if (starts.size === 0) return;
    const next = restartedMap(keeper.current, starts);
    adopted = await keeper.offer(next, RESTART_SOURCE);
    if (adopted) logStarts(log, next, starts);
  } finally {
    // Adopted: the stores' turn to their new epoch released them.
    if (!adopted) for (const st of held) await releaseLeader(pool, st).catch(() => undefined);
  }
}

/** logStarts says, per shard, which epoch an unclean stop made it start where. */
function logStarts(log: Logger, map: LiveMap, starts: ReadonlyMap<number, number>): void {
  for (const [idx, last] of starts) {
    const s = map.shards.find((x) => x.idx === idx);
    if (s === undefined) continue;
    log.warn(
      { shard: s.name, leader: s.leader, epoch: s.epoch, first_seq: last + 1, map_version: map.version },
      `${s.name}: the last run stopped uncleanly with writes shown before their sync; ${s.leader} leads it in a new epoch ${s.epoch} from seq ${last + 1}, so replicas and watchers holding records the crash took see a fork`,
    );
  }
}
