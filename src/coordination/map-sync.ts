/**
 * Map sync: what a node does with the live map etcd holds against its own (EtcdCoordinator's
 * reconcile, docs/failover.md, "Automatic failover with etcd").
 *
 * etcd orders the maps: a newer one there is adopted, an older one (or none) is replaced by this
 * node's. Two maps of one version with other content cannot come from etcd's own order (every map
 * is written by compare-and-swap over the one before); they come from maps made apart from it:
 * etcd lost its data or was replaced by an empty one (or `[coordination] cluster` renamed), and
 * nodes that were ahead or behind wrote theirs, or a lagging node published a promotion over its
 * older map. The node then settles them by the rule maps made apart follow without a coordinator
 * (`mergedMap`, src/routing/map-merge.ts: an entry that extends the other, a leader change over
 * restart epochs) and writes the result, a version above both, to etcd, so every node adopts it
 * from there. Maps the rule does not settle (two leader changes made apart) are logged as an
 * error until an operator publishes a newer map. Before, such a map was ignored without a word,
 * and the nodes routed with different leaders at one version for good.
 */
import type { LiveMap } from '../routing/live-map.js';
import { mergedMap, sameShards } from '../routing/map-merge.js';

/** MapSync is the step `mapSync` decides. */
export type MapSync =
  | { kind: 'adopt'; map: LiveMap }
  | { kind: 'write'; map: LiveMap; reason?: string }
  | { kind: 'conflict'; message: string }
  | { kind: 'none' };

/** mapSync decides, for `mine` and `theirs` (etcd's, undefined: none), what this node does (see above). */
export function mapSync(mine: LiveMap, theirs: LiveMap | undefined, key: string): MapSync {
  if (theirs === undefined || theirs.version < mine.version) return { kind: 'write', map: mine };
  if (theirs.version > mine.version) return { kind: 'adopt', map: theirs };
  if (sameShards(theirs, mine)) return { kind: 'none' };
  const merged = mergedMap(mine, theirs) ?? mergedMap(theirs, mine);
  const at = `the live map in etcd (${key}) has this node's version ${mine.version} but other shard entries (maps made apart from etcd: did etcd lose its data?)`;
  if (merged !== undefined)
    return {
      kind: 'write',
      map: merged.map,
      reason: `${at}; writing their merge as version ${merged.map.version} (an entry that extends the other wins, a change of leader beats restart epochs)`,
    };
  return {
    kind: 'conflict',
    message: `${at}, and neither extends the other: two changes of a shard were made apart; this node keeps its map. Run \`distkv failover\` for that shard to publish a newer map`,
  };
}

/**
 * misfitMessage explains a map in etcd (at `key`) that does not fit this node's config (`why`),
 * while this node serves with its own map of `version` and takes no part.
 */
export function misfitMessage(key: string, why: string, version: number): string {
  return `the live map in etcd (${key}) does not fit this node's config: ${why}; this node serves with its own map (version ${version}), writes nothing to etcd and takes no leader key (its leaders take no writes) until it fits. Either another cluster uses the same [coordination] cluster name, or this cluster's config changed its shards or members while \`cluster\` names it by hand (a name given by hand, unlike the default topology hash, does not change with the config): give the new config another \`cluster\` name, or delete ${key} once every node runs the new config`;
}
