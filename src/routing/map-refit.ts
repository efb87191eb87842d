/**
 * Map refit: the live map a node starts with when its saved map was made under another config
 * (docs/failover.md, "How a map spreads"; docs/operations.md, "Changing the layout").
 *
 * An operator changes a shard's members (adds or removes a replica) by editing the file and
 * restarting the nodes. The saved map then no longer fits the config, and before, every node
 * started from the config's map: the configured `address` leading in epoch 0. After any failover
 * that is wrong twice: the shard's leader went back to a node that may lack writes the real
 * leader acknowledged, and every member whose records carry the later epoch was refused by that
 * leader (STALE_LEADER, "it was deposed") for good, so nothing ever reconciled them
 * (test/e2e/config-change-after-failover.test.ts).
 *
 * So each shard of the new config that the old map names (same idx and name) keeps what the old map
 * knew of it, when it is past epoch 0 and its leader is still a member: the leader, the epoch, the
 * history (every fork point and key version's epoch) and the floor. Its replicas are the new
 * config's other members (those of the old map first, in its order). Any other shard takes the
 * config's entry, as before: an epoch-0 entry holds nothing the config does not say (a node new to
 * the cluster starts from the same entry), and a shard whose leader the new config removed has no
 * leader to keep (`orphaned`: the caller says so;
 * fail it over to a member the new config keeps before removing its leader). The refit keeps the old
 * version when it kept any shard (every node refits the same old map to the same new one, and a new
 * member, starting at version 1, adopts it from its peers), else it is the config's map (version 1).
 * The node saves the refit once its start has checked it with its peers (MapKeeper.saveRefit): it
 * is what the node routes with, and what every later start would compute again from the old file.
 */
import { initialLiveMap, type LiveMap, type LiveShard, parseLiveMap } from './live-map.js';
import type { ShardInfo } from './shard-map.js';

/** Refit is the map a refit gives and what it did per shard. */
export interface Refit {
  map: LiveMap;
  /** kept names the shards whose leader, epoch and history the old map gave. */
  kept: string[];
  /** orphaned names the shards past epoch 0 whose old leader the new config no longer lists. */
  orphaned: string[];
}

/** oldEntry is the old map's entry of shard `c` (same idx and name) when it is one, else undefined. */
function oldEntry(doc: unknown, c: ShardInfo): Partial<Record<keyof LiveShard, unknown>> | undefined {
  const shards = (doc as { shards?: unknown } | null)?.shards;
  if (!Array.isArray(shards)) return undefined;
  const s = (shards as unknown[]).find(
    (x) => typeof x === 'object' && x !== null && (x as { idx?: unknown }).idx === c.idx,
  ) as Partial<Record<keyof LiveShard, unknown>> | undefined;
  return s?.name === c.name ? s : undefined;
}

/**
 * refittedMap is the map to start with, under `config`, from `doc`, a saved map of another config
 * (see above). An old entry that is not valid on its own (parseLiveMap) is not kept.
 */
export function refittedMap(doc: unknown, config: readonly ShardInfo[]): Refit {
  const initial = initialLiveMap(config);
  const version = (doc as { version?: unknown } | null)?.version;
  const kept: string[] = [];
  const orphaned: string[] = [];
  const shards = initial.shards.map((fresh): LiveShard => {
    const c = config.find((x) => x.idx === fresh.idx)!;
    const old = oldEntry(doc, c);
    if (old === undefined || typeof old.epoch !== 'number' || old.epoch === 0) return fresh;
    const members = [c.address, ...c.replicas];
    if (typeof old.leader !== 'string' || !members.includes(old.leader)) {
      orphaned.push(c.name);
      return fresh;
    }
    // The old replicas that stay keep their order, the new members follow in the config's: a shard
    // whose members did not change keeps its entry exactly (the map is saved so: MapKeeper.saveRefit).
    const stay = new Set(
      (Array.isArray(old.replicas) ? (old.replicas as unknown[]) : []).filter(
        (m): m is string => typeof m === 'string' && m !== old.leader && members.includes(m),
      ),
    );
    const candidate = {
      ...old,
      idx: c.idx,
      name: c.name,
      replicas: [...stay, ...members.filter((m) => m !== old.leader && !stay.has(m))],
    };
    let entry: LiveShard;
    try {
      // One shard checked alone: the config of that shard only, and a map of it.
      entry = parseLiveMap({ version: 1, shards: [candidate] }, [c]).shards[0]!;
    } catch {
      return fresh;
    }
    kept.push(c.name);
    return entry;
  });
  if (kept.length === 0 || typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1)
    return { map: initial, kept: [], orphaned };
  return { map: { version, shards }, kept, orphaned };
}
