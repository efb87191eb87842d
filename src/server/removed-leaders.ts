/**
 * Removed leaders: the shards whose leader, by this node's saved live map, the config it starts
 * with no longer lists among their members (docs/failover.md, "A config that removes a shard's
 * leader").
 *
 * The saved map then no longer fits the config and is refit (src/routing/map-refit.ts): such a
 * shard past epoch 0 has no leader to keep and takes the config's entry, its `address` leading in
 * epoch 0. Before, the node started so: the new leader lacked whatever the removed one held beyond
 * its own copy (writes acknowledged there included), wrote epoch 0 over records of a later epoch,
 * and every other member, holding records of that later epoch, refused it for good (STALE_LEADER).
 * With etcd the other nodes went on logging the maps they refused. Nothing ever recovered by itself.
 *
 * The node cannot converge by itself: the member that holds the removed leader's last record is the
 * one to take over, and only the removed leader knows that seq (it may have acknowledged records no
 * replica has yet); under the new file it is not a peer, and with etcd it published its seq under the
 * old config's keys. A failover run under the old file does it safely (a planned one holds the
 * shard's writes until its target has the leader's last seq). So such a shard is refused at start
 * (`removedLeaderError`, CONFIG_INVALID), after the start's round has asked etcd and the peers
 * for a newer map: a node that was down while the shard was failed over learns the new leader there
 * (an entry of this config past the removed leader's epoch) and starts. The data directory is left
 * as it was, so the node starts again with its previous file.
 *
 * A shard in epoch 0 is not refused: every member's records are epoch 0, so the config's new leader
 * is followed (a leader behind a replica is held by behind-leaders.ts), as before.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DistkvError } from '../errors.js';
import type { LiveMap } from '../routing/live-map.js';
import type { ShardInfo } from '../routing/shard-map.js';
import { LIVE_MAP_FILE } from './live-map-file.js';

/** RemovedLeader is a shard whose saved leader the config no longer lists. */
export interface RemovedLeader {
  idx: number;
  shard: string;
  /** leader is the removed member the saved map names as the shard's leader. */
  leader: string;
  /** epoch is the shard's epoch in the saved map (above 0). */
  epoch: number;
  /** version is the saved map's version. */
  version: number;
  /** address is the leader the new config names for the shard (the failover's target to suggest). */
  address: string;
}

/** entryOf is the saved map's entry of shard `c` (same idx and name), if any. */
function entryOf(doc: unknown, c: ShardInfo): { leader?: unknown; epoch?: unknown } | undefined {
  const shards = (doc as { shards?: unknown } | null)?.shards;
  if (!Array.isArray(shards)) return undefined;
  const s = (shards as unknown[]).find(
    (x) => typeof x === 'object' && x !== null && (x as { idx?: unknown }).idx === c.idx,
  ) as { name?: unknown; leader?: unknown; epoch?: unknown } | undefined;
  return s?.name === c.name ? s : undefined;
}

/** removedLeaders lists the shards of `config` whose leader in `doc` (a saved map) is past epoch 0 and no longer a member. */
export function removedLeaders(doc: unknown, config: readonly ShardInfo[]): RemovedLeader[] {
  const version = (doc as { version?: unknown } | null)?.version;
  const out: RemovedLeader[] = [];
  for (const c of config) {
    const e = entryOf(doc, c);
    if (e === undefined || typeof e.leader !== 'string' || typeof e.epoch !== 'number' || e.epoch <= 0)
      continue;
    if (e.leader === c.address || c.replicas.includes(e.leader)) continue;
    out.push({
      idx: c.idx,
      shard: c.name,
      leader: e.leader,
      epoch: e.epoch,
      version: typeof version === 'number' ? version : 0,
      address: c.address,
    });
  }
  return out.sort((a, b) => a.idx - b.idx);
}

/**
 * savedRemovedLeaders is `removedLeaders` of the map saved in `dataDir`; none when there is no
 * readable map (loadLiveMap, which reads it first, reports a damaged one).
 */
export function savedRemovedLeaders(dataDir: string, config: readonly ShardInfo[]): RemovedLeader[] {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(join(dataDir, LIVE_MAP_FILE), 'utf8'));
  } catch {
    return [];
  }
  return removedLeaders(doc, config);
}

/**
 * unresolved are the shards of `removed` that `map` (the one routed with now) has not moved on:
 * an entry past the removed leader's epoch was made by a failover after the saved map (learnt from
 * a peer or etcd at start), so its leader is a member that took the shard over properly.
 */
export function unresolved(removed: readonly RemovedLeader[], map: LiveMap): RemovedLeader[] {
  return removed.filter((r) => (map.shards.find((s) => s.idx === r.idx)?.epoch ?? 0) <= r.epoch);
}

/** removedLeaderError is the refusal of a start with the shards of `removed` (see above). */
export function removedLeaderError(removed: readonly RemovedLeader[]): DistkvError {
  const each = removed.map(
    (r) =>
      `${r.shard} is led by ${r.leader} in this node's live map (version ${String(r.version)}, epoch ${String(r.epoch)}), and the config no longer lists ${r.leader} among its members: ` +
      `started so, ${r.address} would lead it in epoch 0 without what ${r.leader} holds beyond its copy, and the members holding records of epoch ${String(r.epoch)} would refuse it for good. ` +
      `Move the shard first: with the previous sharding.toml, run \`distkv failover --shard ${r.shard} --to ${r.address}\` (add --force if ${r.leader} is down for good)`,
  );
  return new DistkvError(
    'CONFIG_INVALID',
    `${each.join('; ')}; then restart the nodes with the new file. No peer or etcd routing with this config knows a newer leader. Not started, nothing changed: the node starts again with its previous sharding.toml`,
  );
}
