/**
 * What `distkv cluster` says of nodes that route with different config files (a rolling config
 * change under way, or a node given another file): each node's `/cluster` carries its config's
 * topology hash (`version`). More than one is a problem (exit 1), named before the replicas'
 * lines it explains: before, a replica that a node's new file no longer lists showed as "its node
 * answers but shows no replica of the shard there (it routes with an older live map, or runs an
 * older distkv)", and nothing said the nodes ran different files.
 */
import type { ClusterView } from '../client/types.js';

/** differentConfigProblem is the problem line when the nodes answered with more than one config hash (undefined: one). */
export function differentConfigProblem(
  docs: readonly Pick<ClusterView, 'node' | 'hosted_nodes' | 'version'>[],
): string | undefined {
  const groups = new Map<string, Set<string>>();
  for (const d of docs) {
    const nodes = groups.get(d.version) ?? new Set<string>();
    for (const n of d.hosted_nodes.length > 0 ? d.hosted_nodes : [d.node]) nodes.add(n);
    groups.set(d.version, nodes);
  }
  if (groups.size < 2) return undefined;
  const named = [...groups]
    .map(([version, nodes]) => ({ version, nodes: [...nodes].sort() }))
    .sort((a, b) => b.nodes.length - a.nodes.length || a.version.localeCompare(b.version))
    .map((g) => `${g.nodes.join(', ')} with config ${g.version}`)
    .join('; ');
  return `nodes route with different sharding.toml files: ${named}. A rolling config change is not finished (or a node was given another file): until every node runs the same file, a replica or slot one file gives and the other does not is served by neither as configured; give every node the same file and restart the odd ones out (docs/operations.md, "Changing the layout")`;
}
