/**
 * Etcd cluster check: whether the nodes of the config talk to one etcd cluster (docs/failover.md,
 * "Members on different etcd clusters").
 *
 * The config hash the peers compare does not cover `[coordination] etcd`, rightly: one etcd may be
 * reached through a proxy or under other names. But a node whose `etcd` reaches another etcd cluster
 * (every host running its own one-member etcd behind `http://127.0.0.1:2379`, one file left naming
 * a test etcd) coordinates alone: it found no leader key there, promoted itself and took writes
 * beside the real leader, and its map version, higher, later won over the real one. etcd names its
 * cluster in the header of every answer (`cluster_id`); each node keeps the id of its own etcd from
 * its reads (etcd-keyspace.ts), shows it in `/cluster` → `coordination.etcd_cluster_id` with its
 * endpoints, and reads its peers' from their answers to the peer check (peer-check.ts). A proxy in
 * front of the same etcd gives the same id.
 *
 * `etcdSplit` compares them. A node takes part in coordination (campaigns, writes its map to its
 * etcd, holds leader keys and so takes writes as a leader) only while no peer named another etcd
 * cluster, or while the nodes known to talk to its own etcd cluster (itself included) are a strict
 * majority of the config's nodes: at most one etcd cluster can have that, so at most one leads each
 * shard. Otherwise it stands aside: it serves with its own map, takes no part and writes nothing to
 * etcd, and stops counting the leader keys it holds (its leaders take no writes), until the split
 * ends. A peer keeps the id it last named while it is silent (it may be cut off but alive).
 *
 * Order at start: a node learns its etcd cluster id (its first read) and shows it before it asks
 * its peers (the coordinator's first reconcile asks them then, before any campaign). Of two nodes
 * that start at once on different etcd clusters, the one that asks second sees the other's id, and
 * the first one, asked by it, asks it back at once (PeerCheck.heardFrom); a campaign waits a TTL
 * at least (campaign-gate.ts), so neither leads unseen.
 */

/** EtcdIdentity is which etcd cluster a node talks to: its id (hex, as etcdctl shows it) and the endpoints it names. */
export interface EtcdIdentity {
  id: string;
  etcd: readonly string[];
}

/** PeerEtcd is a peer and the etcd cluster it last named (undefined: none yet). */
export interface PeerEtcd {
  address: string;
  etcd: EtcdIdentity | undefined;
}

/** EtcdSplit is what `etcdSplit` finds (see the design block). */
export type EtcdSplit =
  | { kind: 'same' }
  | {
      kind: 'split';
      /** takesPart: this node's etcd cluster is a strict majority's, so it goes on. */
      takesPart: boolean;
      /** same are the nodes known on this node's etcd cluster, its own included. */
      same: readonly string[];
      /** others are the peers that named another etcd cluster. */
      others: readonly { address: string; etcd: EtcdIdentity }[];
      members: number;
      message: string;
    };

/** MAX_ENDPOINTS bounds the endpoints read from a peer's answer. */
const MAX_ENDPOINTS = 16;
/** MAX_TEXT bounds each text read from a peer's answer. */
const MAX_TEXT = 256;

/** clusterIdText writes etcd's `cluster_id` (a decimal uint64 in etcd3's headers) in hex, as etcdctl does. */
export function clusterIdText(raw: string): string {
  try {
    return BigInt(raw).toString(16);
  } catch {
    return raw.slice(0, MAX_TEXT);
  }
}

/** endpointsShown are `endpoints` without any user:password part, for `/cluster` and logs. */
export function endpointsShown(endpoints: readonly string[]): string[] {
  return endpoints.map((e) => e.replace(/\/\/[^/@]*@/, '//'));
}

/** etcdOfDoc reads `coordination.etcd_cluster_id` and `coordination.etcd` of a `/cluster` answer (undefined: none). */
export function etcdOfDoc(doc: unknown): EtcdIdentity | undefined {
  if (typeof doc !== 'object' || doc === null) return undefined;
  const c = (doc as { coordination?: unknown }).coordination;
  if (typeof c !== 'object' || c === null) return undefined;
  const { etcd_cluster_id: id, etcd } = c as Record<string, unknown>;
  if (typeof id !== 'string' || id === '') return undefined;
  const endpoints = Array.isArray(etcd)
    ? etcd
        .slice(0, MAX_ENDPOINTS)
        .filter((e): e is string => typeof e === 'string')
        .map((e) => e.slice(0, MAX_TEXT))
    : [];
  return { id: id.slice(0, MAX_TEXT), etcd: endpoints };
}

/**
 * etcdPendingOfDoc tells a `/cluster` answer of a node that runs `[coordination]` (it names its
 * endpoints) but has not read its etcd yet (no id: it is starting). Older nodes name neither.
 */
export function etcdPendingOfDoc(doc: unknown): boolean {
  if (typeof doc !== 'object' || doc === null) return false;
  const c = (doc as { coordination?: unknown }).coordination;
  if (typeof c !== 'object' || c === null) return false;
  const { etcd_cluster_id: id, etcd } = c as Record<string, unknown>;
  return Array.isArray(etcd) && id === undefined;
}

/** named writes one etcd cluster for a message: `etcd cluster 1a2b (http://h:2379)`. */
function named(e: EtcdIdentity): string {
  return `etcd cluster ${e.id} (${e.etcd.join(', ') || 'endpoints unknown'})`;
}

/**
 * etcdSplit compares this node's etcd cluster `mine` (its nodes `hosted`) with its `peers`' (the
 * config's other nodes); see the design block.
 */
export function etcdSplit(
  mine: EtcdIdentity,
  hosted: readonly string[],
  peers: readonly PeerEtcd[],
): EtcdSplit {
  const others = peers.flatMap((p) =>
    p.etcd !== undefined && p.etcd.id !== mine.id ? [{ address: p.address, etcd: p.etcd }] : [],
  );
  if (others.length === 0) return { kind: 'same' };
  const same = [...hosted, ...peers.filter((p) => p.etcd?.id === mine.id).map((p) => p.address)];
  const members = hosted.length + peers.length;
  const takesPart = same.length * 2 > members;
  const theirs = others.map((o) => `${o.address} talks to ${named(o.etcd)}`).join('; ');
  const head = `MEMBERS USE DIFFERENT ETCD CLUSTERS: ${hosted.join(', ')} talks to ${named(mine)}, but ${theirs}`;
  const count = `${same.length} of the config's ${members} nodes are known on this node's etcd cluster`;
  const fix =
    'give every node [coordination] etcd endpoints of one etcd cluster (a proxy in front of it is fine) and restart the odd ones out';
  const message = takesPart
    ? `${head}; ${count}, a majority, so this node goes on coordinating there, and the others take no part; ${fix}`
    : `${head}; only ${count} (a strict majority is needed), so this node takes no part in coordination: it neither campaigns nor writes its map to its etcd, and its leaders take no writes, until the nodes agree; ${fix}`;
  return { kind: 'split', takesPart, same, others, members, message };
}

/** CoordinationDoc is `/cluster` → `coordination` (docs/api.md). */
export interface CoordinationDoc {
  lease_ttl_ms: number;
  /** etcd are `[coordination] etcd` (without passwords). */
  etcd: string[];
  /** etcd_cluster_id is the etcd cluster this node's reads come from, once it read etcd. */
  etcd_cluster_id?: string;
  /** different_etcd_clusters is present while a peer names another etcd cluster. */
  different_etcd_clusters?: {
    takes_part: boolean;
    message: string;
    nodes: { node: string; etcd_cluster_id: string; etcd: readonly string[] }[];
  };
}

/** coordinationDoc builds `/cluster` → `coordination` from the config and the coordinator's `view` (etcdCluster). */
export function coordinationDoc(
  leaseTtlMs: number,
  endpoints: readonly string[],
  view: { identity: EtcdIdentity | undefined; split: EtcdSplit } | undefined,
): CoordinationDoc {
  const split = view?.split;
  return {
    lease_ttl_ms: leaseTtlMs,
    etcd: endpointsShown(endpoints),
    ...(view?.identity === undefined ? {} : { etcd_cluster_id: view.identity.id }),
    ...(split === undefined || split.kind === 'same'
      ? {}
      : {
          different_etcd_clusters: {
            takes_part: split.takesPart,
            message: split.message,
            nodes: split.others.map((o) => ({
              node: o.address,
              etcd_cluster_id: o.etcd.id,
              etcd: o.etcd.etcd,
            })),
          },
        }),
  };
}
