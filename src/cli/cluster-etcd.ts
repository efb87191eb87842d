/**
 * What `distkv cluster` says of nodes that talk to different etcd clusters (docs/failover.md,
 * "Members on different etcd clusters"): each node's `/cluster` names the etcd cluster its reads
 * come from (`coordination.etcd_cluster_id`, with its endpoints) and the peers it found on another
 * one (`coordination.different_etcd_clusters`, which also covers a node that did not answer the
 * command). More than one id is a problem (exit 1), named first: before, the command blamed an
 * "older map" and replicas that did not follow, never the etcd clusters.
 */
import type { ClusterView } from '../client/types.js';

/** EtcdGroup is one etcd cluster and the nodes known to talk to it. */
interface EtcdGroup {
  id: string;
  etcd: string[];
  nodes: string[];
}

/** etcdGroups groups the nodes of `docs` (and the peers they report) by the etcd cluster they talk to. */
export function etcdGroups(
  docs: readonly Pick<ClusterView, 'node' | 'hosted_nodes' | 'coordination'>[],
): EtcdGroup[] {
  const byNode = new Map<string, { id: string; etcd: string[] }>();
  for (const d of docs) {
    const id = d.coordination?.etcd_cluster_id;
    if (id === undefined) continue;
    for (const n of d.hosted_nodes.length > 0 ? d.hosted_nodes : [d.node])
      byNode.set(n, { id, etcd: d.coordination?.etcd ?? [] });
  }
  // A node's own word first; its peers' word for the nodes that did not answer.
  for (const d of docs)
    for (const o of d.coordination?.different_etcd_clusters?.nodes ?? [])
      if (!byNode.has(o.node)) byNode.set(o.node, { id: o.etcd_cluster_id, etcd: o.etcd });
  const groups = new Map<string, EtcdGroup>();
  for (const [node, e] of byNode) {
    const g = groups.get(e.id) ?? { id: e.id, etcd: e.etcd, nodes: [] };
    g.nodes.push(node);
    groups.set(e.id, g);
  }
  return [...groups.values()].sort((a, b) => b.nodes.length - a.nodes.length || a.id.localeCompare(b.id));
}

/** differentEtcdProblem is the problem line when the nodes talk to more than one etcd cluster (undefined: one or none). */
export function differentEtcdProblem(
  docs: readonly Pick<ClusterView, 'node' | 'hosted_nodes' | 'coordination'>[],
): string | undefined {
  const groups = etcdGroups(docs);
  if (groups.length < 2) return undefined;
  const named = groups
    .map(
      (g) =>
        `${g.nodes.sort().join(', ')} on etcd cluster ${g.id} (${g.etcd.join(', ') || 'endpoints unknown'})`,
    )
    .join('; ');
  return `members use different etcd clusters: ${named}. A node takes part in coordination only while its etcd cluster has a strict majority of the nodes (the others neither campaign, nor write their map, nor take writes as leaders); give every node [coordination] etcd endpoints of one etcd cluster and restart the odd ones out`;
}
