/**
 * A failover of one shard going on over maps that changed other shards only (docs/failover.md,
 * "Who holds a shard"). `distkv failover` builds its map on the map it read at the start (version
 * V). Another failover, of another shard, may publish V + 1 meanwhile: the members this one holds
 * then answer a newer map, and with etcd its own V + 1 loses the compare-and-swap. Before, either
 * stopped it with MAP_CHANGED, to be run again by hand, though nothing it decided on had changed:
 * its shard's entry (leader, replicas, epoch, history) was the one it started from.
 *
 * The rule: a newer map whose entry for this failover's shard is the one it started from does not
 * stop it; a newer map that changed this shard's entry stops it as before. A member that answers
 * the post with such a newer map instead of ours (with etcd, the other won the compare-and-swap)
 * is given ours again rebuilt on its map (the same change of this shard, every other entry as that
 * map has it, the version above it), at most MAX_REBASES times. Without etcd a member given ours
 * over the other's merges them (src/routing/map-merge.ts: a version above both, the same map on
 * every member). Failovers of one shard still run one at a time: their claims (the holds named
 * `by`) serialize them, and a map that moved the shard is refused here. With etcd each version is
 * one map; without, two failovers posting at once can each give some members their own V + 1
 * until the merge, which every member computes alike; a member's versions only rise.
 */
import { DistkvError } from '../errors.js';
import type { LiveMap } from '../routing/live-map.js';
import { sameShard } from '../routing/map-merge.js';
import { type AdminAuth, clusterOf, type FenceAnswer } from './failover-calls.js';

/** MAX_REBASES bounds how many times one post of the new map is rebuilt on a newer map and sent again. */
export const MAX_REBASES = 5;

/** othersOnly tells whether `newer` holds shard `idx`'s entry exactly as `base` does (only other shards changed). */
export function othersOnly(newer: LiveMap, base: LiveMap, idx: number): boolean {
  const a = newer.shards.find((s) => s.idx === idx);
  const b = base.shards.find((s) => s.idx === idx);
  return a !== undefined && b !== undefined && sameShard(a, b);
}

/**
 * checkShardUnchanged lets a failover of shard `idx` (`shard`) go on once member `node`, held,
 * answered `held`: when that names a map newer than `base`, the member's map (read from its
 * `/cluster`) must hold the shard's entry as `base` does (only other shards changed); else
 * MAP_CHANGED (another failover of this shard finished before this one held: nothing was changed,
 * the caller releases its holds). The failover's base stays the map it started from: rebuilt on
 * the member's map, it would move the other shard at members that have not taken that change yet,
 * where the other failover may still claim it (MAP_CHANGED); its map is rebuilt only on what the
 * member it is posted to answers (`postRebasing`).
 */
export async function checkShardUnchanged(
  scheme: string,
  auth: AdminAuth,
  idx: number,
  shard: string,
  node: string,
  held: FenceAnswer,
  base: LiveMap,
): Promise<void> {
  if (held.map_version === undefined || held.map_version <= base.version) return;
  const newer = (await clusterOf(scheme, node, auth))?.map;
  if (newer !== undefined && newer.version >= held.map_version && othersOnly(newer, base, idx)) return;
  throw new DistkvError(
    'MAP_CHANGED',
    `the live map changed during the failover: ${node} routes ${shard} with map version ${held.map_version}, this failover started from ${base.version}, and ${newer === undefined ? `${node} did not answer its map` : `${shard}'s entry changed in it`} (another failover of ${shard} ran meanwhile); nothing was changed, check \`distkv cluster\` and run it again if still needed`,
  );
}

/** Posted is what a member holds once given the new map, and the map last posted (rebuilt on a newer base, maybe). */
export interface Posted {
  held: LiveMap;
  next: LiveMap;
  base: LiveMap;
}

/**
 * postRebasing posts `next` (built by `build` on `base`) with `post`, which answers the map the
 * member holds afterwards. While that map is not `next`'s outcome (`ours`), is at least as new and
 * changed only other shards' entries than `base` (with etcd: another shard's failover won the
 * compare-and-swap of `next`'s version), the map is rebuilt on it and posted again, at most
 * MAX_REBASES times. The caller judges the last answer (MAP_CHANGED when it is not ours).
 */
export async function postRebasing(
  post: (map: LiveMap) => Promise<LiveMap>,
  start: { next: LiveMap; base: LiveMap },
  idx: number,
  build: (base: LiveMap) => LiveMap,
  ours: (held: LiveMap, next: LiveMap) => boolean,
): Promise<Posted> {
  let { next, base } = start;
  for (let rebases = 0; ; rebases++) {
    const held = await post(next);
    if (ours(held, next) || rebases >= MAX_REBASES) return { held, next, base };
    if (held.version < next.version || !othersOnly(held, base, idx)) return { held, next, base };
    base = held;
    next = build(held);
  }
}
