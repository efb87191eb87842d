/**
 * Store turnover: how an adopted live map reaches the stores this process hosts (MapKeeper's
 * adoption, map-keeper.ts). `roleChanges` says which stores change and how; `turnOverStores` tells
 * each store's worker (`set-role`).
 *
 * - A store whose node gains or loses a shard's leadership turns leader ↔ replica (applyLeaders).
 * - A leader that stays leader in a newer epoch is told too: it writes its log in that epoch.
 * - A replica of a shard whose epoch rose may hold records of an older epoch above the fork point
 *   (`forkSeq`, or the seq a merge rewrote: map-merge.ts): it is told that fork (epoch, seq).
 * - Promotions go first, so a demoted store's first pull finds its new leader ready.
 * - Each store on its own: a store that cannot turn over is logged and skipped (`turnOver`), the
 *   map stays adopted and the stores after it still turn over.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { forkSeq, type LiveMap, liveShardInfos } from '../routing/live-map.js';
import type { Fork } from '../worker/messages.js';
import { applyLeaders, type NodePlan, type RoleChange } from './node-plan.js';
import type { StoreHolds } from './store-holds.js';
import type { WorkerPool } from './worker-pool.js';

/** Turnover is what turning stores over changes: the stores in the order to tell them, and each replica's fork by store index. */
export interface Turnover {
  changes: RoleChange[];
  forks: Map<number, Fork>;
}

/**
 * roleChanges gives the plan's stores the roles `map` assigns them (their specs already stamped
 * with its epochs) and returns what changed from `previous`; `rewritten` names the shards whose
 * epochs a merge rewrote, with the seq their stores fork at.
 */
export function roleChanges(
  plan: NodePlan,
  config: Config,
  previous: LiveMap,
  map: LiveMap,
  rewritten: ReadonlyMap<number, number>,
): Turnover {
  const changes = applyLeaders(plan, config, liveShardInfos(config.shards, map));
  // Replicas of a shard whose epoch rose may hold records of an older epoch above its fork point.
  const forks = new Map<number, Fork>();
  for (const s of map.shards) {
    const known = previous.shards.find((p) => p.idx === s.idx)?.epoch ?? 0;
    // A leader that stays leader in a newer epoch writes in it from now on.
    for (const st of plan.stores)
      if (
        s.epoch > known &&
        st.shard.idx === s.idx &&
        st.role === 'leader' &&
        !changes.some((c) => c.spec === st)
      )
        changes.push({ spec: st, from: 'leader' });
    const seq = rewritten.get(s.idx) ?? (s.epoch > known ? forkSeq(s, known) : undefined);
    if (seq === undefined) continue;
    for (const st of plan.stores)
      if (st.shard.idx === s.idx && st.role === 'replica') {
        forks.set(st.index, { epoch: s.epoch, seq });
        if (!changes.some((c) => c.spec === st)) changes.push({ spec: st, from: 'replica' });
      }
  }
  // Promotions first, so a demoted store's first pull finds its new leader ready.
  changes.sort((a, b) => (a.spec.role === 'leader' ? 0 : 1) - (b.spec.role === 'leader' ? 0 : 1));
  return { changes, forks };
}

/** turnOverStores tells each changed store's worker its new role, one store after the other. */
export async function turnOverStores(
  { changes, forks }: Turnover,
  pool: WorkerPool,
  holds: StoreHolds,
  log: Logger,
): Promise<void> {
  // Each store on its own: one that cannot turn over (it failed to open, its worker is down)
  // must not leave the stores after it in their old roles, leading or following nobody.
  for (const c of changes) await turnOver(c, forks.get(c.spec.index) ?? null, pool, holds, log);
}

/**
 * turnOver tells a store's worker its new role. A store that failed to open is skipped: it is
 * not hosted, and it opens in the role its spec holds now when it is opened again. A failure is
 * logged, not thrown: the map is adopted, and the other stores still turn over.
 */
async function turnOver(
  c: RoleChange,
  fork: Fork | null,
  pool: WorkerPool,
  holds: StoreHolds,
  log: Logger,
): Promise<void> {
  const at = { shard: c.spec.shard.name, node: c.spec.node, from: c.from, to: c.spec.role, fork };
  const failure = pool.storeFailure(c.spec.index);
  if (failure !== undefined) {
    log.warn(
      { ...at, err: failure.message },
      `store ${c.spec.shard.name} on ${c.spec.node} is ${c.spec.role} in the new map but failed to open (${failure.message}): it answers 503 until fixed, and opens as ${c.spec.role}`,
    );
    return;
  }
  // set-role ends the store's hold at its worker, whoever placed it.
  holds.ended(c.spec.index);
  try {
    await pool.call(c.spec.worker, { type: 'set-role', store: c.spec.index, spec: c.spec, fork });
    log.info(at, `store ${c.spec.shard.name} on ${c.spec.node}: ${c.from} → ${c.spec.role}`);
  } catch (err) {
    log.error(
      { ...at, err: (err as Error).message },
      `store ${c.spec.shard.name} on ${c.spec.node} did not turn ${c.from} → ${c.spec.role}: ${(err as Error).message}`,
    );
  }
}
