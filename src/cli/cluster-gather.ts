/**
 * What `distkv cluster` gathers (cluster-commands.ts): the `/cluster` answer of the first node that
 * answers, then of every other node of the cluster (PEER_ASK_MS each; one that does not answer is
 * DOWN), merged into one view: the newest live map any node routes with, each leader's and
 * replica's own view of itself, what a leader heard of its replicas' pulls, and the slots a node
 * refuses for a peer's config (`disputesOf`, also read by backup and restore).
 *
 * A node answers `/cluster` while it starts (its stores opening: `starting` in its answer), and a
 * replica is `starting` until it first reaches its leader: `startingOf` names them, so the command
 * asks again for a few seconds (STARTING_WAIT_MS) rather than report a start as a fault. Before, a
 * deploy script that ran `distkv cluster` right after `distkv serve` got "replica ... does not
 * follow its leader (starting ...)" and exit 1, and the same command a second later exit 0.
 */
import type { DistkvClient } from '../client/client.js';
import type { ClusterReplica, ClusterShard } from '../client/types.js';
import type { Connection } from './connect.js';
import { leaderViewOf } from './cluster-health.js';
import { SLOW_NOTE_MS, withSlowNote } from './slow-note.js';
import { type TlsFailure, tlsFailureOf } from '../util/tls-failure.js';

/**
 * PEER_ASK_MS bounds the ask of each other node by `distkv cluster`: one that has not answered by
 * then is shown DOWN. Asked as any read, a node stopped with SIGSTOP was waited for four attempts
 * of 10 s each (and the looks for a newer map between them): 43 s before the command printed
 * anything, just when an operator runs it to see what is wrong.
 */
const PEER_ASK_MS = 5000;

/** STARTING_WAIT_MS bounds how long `distkv cluster` asks again while a node or replica is starting. */
export const STARTING_WAIT_MS = 15000;
/** STARTING_POLL_MS is the pause between two asks meanwhile. */
export const STARTING_POLL_MS = 250;

/** Dispute is one node's refusal of the slots a peer's config gives another leader. */
export interface Dispute {
  node: string;
  peer: string;
  peer_version: string | null;
  peer_state: string;
  slots: string;
}

/** disputesOf reads the disputed slots of a `/cluster` answer's `peers` (absent on older nodes). */
export function disputesOf(node: string, peers: unknown): Dispute[] {
  if (!Array.isArray(peers)) return [];
  return (peers as unknown[]).flatMap((p) => {
    const { address, state, version, disputed_slots } = (p ?? {}) as Record<string, unknown>;
    if (typeof address !== 'string' || typeof disputed_slots !== 'string') return [];
    return [
      {
        node,
        peer: address,
        peer_version: typeof version === 'string' ? version : null,
        peer_state: typeof state === 'string' ? state : 'unknown',
        slots: disputed_slots,
      },
    ];
  });
}

/** ClusterView is what `distkv cluster` shows and judges (see the design block). */
export type ClusterView = Awaited<ReturnType<typeof gatherCluster>>;

/** gatherCluster asks the nodes (see the design block) and merges their answers. */
export async function gatherCluster(client: DistkvClient, conn: Connection) {
  // The first node that answers: the last one asked is tried as long as the client retries a
  // read (about 50 s against a node stopped with SIGSTOP), which the command spent silent.
  const doc = await withSlowNote('cluster', client.cluster(), false, SLOW_NOTE_MS, conn.waited);
  // A node that refuses connections is tried again only as long as this ask lasts: its note
  // says so ("up to 5 s"), not the client's 10 s, and the node is shown DOWN when it ends.
  conn.askBoundMs = PEER_ASK_MS;
  // Each node knows the positions of the stores it hosts: ask every other node too.
  const here = new Set(doc.hosted_nodes);
  const others = [
    ...new Set(doc.shards.flatMap((s) => [s.leader.address, ...s.replicas.map((r) => r.address)])),
  ].filter((a) => !here.has(a));
  // The nodes of --url asked before the one that answered failed just now (client.cluster()
  // passes over one that refuses connections): asked again as peers, they are not waited for
  // (a refusing --url node held the command another PEER_ASK_MS before it was shown DOWN).
  const urlHosts = conn.urls.map((u) => new URL(u).host);
  const answered = urlHosts.findIndex((h) => here.has(h));
  const failedNow = new Set(answered < 0 ? urlHosts : urlHosts.slice(0, answered));
  const docs = [doc];
  const down = new Set<string>();
  // A node whose TLS handshake fails is up, not DOWN (cluster-tls.ts).
  const untrusted = new Map<string, TlsFailure>();
  await Promise.all(
    others.map(async (node) => {
      try {
        const signal = AbortSignal.timeout(PEER_ASK_MS);
        docs.push(
          await client.cluster(node, failedNow.has(node) ? { signal, refusedWaitMs: 0 } : { signal }),
        );
      } catch (err) {
        const tls = tlsFailureOf(err);
        if (tls === undefined) down.add(node);
        else untrusted.set(node, tls);
      }
    }),
  );
  // The newest map any node routes with: the first node's may be behind (docs/failover.md).
  const newest = docs.reduce((a, d) => ((d.map_version ?? 1) > (a.map_version ?? 1) ? d : a));
  const behind = docs.filter((d) => (d.map_version ?? 1) < (newest.map_version ?? 1));
  const disputes = docs.flatMap((d) => disputesOf(d.node, d.peers));
  // The leader's own view of itself (its last seq): a node behind still calls itself leader.
  const leaderOf = (idx: number, address: string): ClusterShard['leader'] | undefined =>
    docs.map((d) => d.shards[idx]?.leader).find((l) => l?.local === true && l.address === address);
  const replicaOf = (idx: number, address: string): ClusterReplica | undefined =>
    docs.flatMap((d) => d.shards[idx]?.replicas ?? []).find((r) => r.address === address && r.local);
  // What the shard's leader heard of a replica's pulls: known even when the replica's node is down.
  const leaderViewFrom = (idx: number, leader: string, address: string): unknown => {
    for (const d of docs) {
      const s = d.shards[idx];
      if (s?.leader.local !== true || s.leader.address !== leader) continue;
      const r = s.replicas.find((x) => x.address === address) as { leader_view?: unknown } | undefined;
      if (r?.leader_view !== undefined) return r.leader_view;
    }
    return undefined;
  };
  const tlsOf = (address: string): { tls_failed?: string } => {
    const f = untrusted.get(address);
    return f === undefined ? {} : { tls_failed: f.code };
  };
  const merged = newest.shards.map((s) => ({
    ...s,
    leader: {
      ...s.leader,
      ...leaderOf(s.idx, s.leader.address),
      down: down.has(s.leader.address),
      ...tlsOf(s.leader.address),
    },
    replicas: s.replicas.map((r) => {
      const view = leaderViewOf(leaderViewFrom(s.idx, s.leader.address, r.address));
      return {
        ...r,
        ...replicaOf(s.idx, r.address),
        down: down.has(r.address),
        ...tlsOf(r.address),
        ...(view === undefined ? {} : { leader_view: view }),
      };
    }),
  }));
  return { newest, behind, disputes, down, untrusted, merged, docs };
}

/**
 * startingOf names what in `view` is still starting: nodes whose `/cluster` says so, and replicas
 * (not down) in state `starting`, which have not reached their leader since they started.
 */
export function startingOf(view: ClusterView): string[] {
  const nodes = view.docs.filter((d) => d.starting !== undefined).map((d) => `node ${d.node}`);
  const replicas = view.merged.flatMap((s) =>
    s.replicas
      .filter((r) => !r.down && r.state === 'starting')
      .map((r) => `replica ${r.address} of ${s.name}`),
  );
  return [...nodes, ...replicas];
}
