/**
 * What `distkv cluster` says of nodes that differ in running with `server.token` (each node's
 * `/cluster` says so: `auth`). A node without one takes a live map from anyone who reaches it, and
 * its peers with one adopt no map from it (src/server/peer-check.ts); their replicas' pulls
 * are refused both ways (401): a problem (exit 1), named first. Before, `distkv cluster` exited 0
 * while a map posted without a token to the one node without had moved a shard's leader.
 */
export function differentAuthProblem(
  docs: readonly Pick<ClusterView, 'node' | 'hosted_nodes' | 'auth'>[],
): string | undefined {
  const nodes = (auth: string): string[] =>
    docs
      .filter((d) => d.auth === auth)
      .flatMap((d) => (d.hosted_nodes.length > 0 ? d.hosted_nodes : [d.node]))
      .sort();
  const open = nodes('none');
  const closed = nodes('token');
  if (open.length === 0 || closed.length === 0) return undefined;
  return `nodes differ in server.token: ${open.join(', ')} without one, ${closed.join(', ')} with one. A node without takes a live map from anyone who reaches it (POST /_admin/map), and the nodes with one adopt no map from it and refuse its replicas' pulls (401); give every node the same server.token and restart the odd ones out (docs/operations.md, "TLS and token rotation")`;
}

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
