/**
 * BehindConfirm: a leader that started behind (behind-leaders.ts) asks a replica's own node whether
 * that replica holds what a pull claimed for it. A pull's `after` is only the word of whoever sent
 * it: with no `server.token` any client that reaches the node can send
 * `/_repl/pull?after=999999&replica=<a real replica>`, and that word alone held the shard (every
 * request refused with LEADER_BEHIND until a failover). The replica's node's `/cluster` lists the
 * position of each replica store it hosts (`acked_seq`, the one the peer check reads): that is
 * asked, once, within CONFIRM_TIMEOUT_MS, at the replica's configured address only (a name the
 * config does not give is not asked: the pull's `replica` chooses no address to contact).
 *
 * The answer is the position the node shows, or why there is none (not a node of the config, no
 * answer in time, an answer that is no `/cluster` document, another config, the store not listed
 * there): the caller logs it. A real replica
 * that pulls is up, so a node that does not answer is taken as not confirming.
 */
import { DistkvError } from '../errors.js';
import { fetchClusterDoc } from './cluster-doc-fetch.js';
import { PEER_TIMEOUT_MS } from './peer-check.js';

/** CONFIRM_TIMEOUT_MS bounds one ask, connection and body included (a peer check's bound). */
export const CONFIRM_TIMEOUT_MS = PEER_TIMEOUT_MS;

/** Confirmation is a replica's position as its node shows it, or why it shows none. */
export type Confirmation = { seq: number } | { reason: string };

/** AskPosition asks the node at `address` for the position of its replica store of shard `idx`. */
export type AskPosition = (address: string, idx: number) => Promise<Confirmation>;

/**
 * positionIn reads the position of replica store `address` of shard `idx` in a `/cluster`
 * document of that node (`local: true`: the node hosts it), or undefined.
 */
export function positionIn(doc: unknown, address: string, idx: number): number | undefined {
  return replicaPositions(doc).find((p) => p.idx === idx && p.address === address)?.seq;
}

/** ReplicaPosition is one replica store's position as a peer's `/cluster` shows it (or this process's: behind-here.ts). */
export interface ReplicaPosition {
  idx: number;
  address: string;
  seq: number;
}

/**
 * replicaPositions reads the replica stores a `/cluster` document's node hosts, with their
 * positions (none when unreadable): a peer's positions (behind-leaders.ts `fromPeer`) and an
 * asked node's (`positionIn`).
 */
export function replicaPositions(doc: unknown): ReplicaPosition[] {
  const shards = (doc as { shards?: unknown } | null)?.shards;
  if (!Array.isArray(shards)) return [];
  const out: ReplicaPosition[] = [];
  for (const s of shards as ({ idx?: unknown; replicas?: unknown } | null)[]) {
    if (typeof s?.idx !== 'number' || !Array.isArray(s.replicas)) continue;
    for (const r of s.replicas as ({ address?: unknown; local?: unknown; acked_seq?: unknown } | null)[])
      if (r?.local === true && typeof r.address === 'string' && typeof r.acked_seq === 'number')
        out.push({ idx: s.idx, address: r.address, seq: r.acked_seq });
  }
  return out;
}

/**
 * clusterAsker asks the nodes `nodes` (this config's other nodes) over `scheme` (trusting `ca`
 * for https) with this node's topology hash `hash`: a node routing with another config is no
 * witness. Each ask has its own connection, closed after it (asks are rare: one per shard in
 * flight, backed off, behind-leaders.ts); the ask itself is fetchClusterDoc's (cluster-doc-fetch.ts).
 */
export function clusterAsker(
  nodes: readonly string[],
  scheme: 'http' | 'https',
  ca: Buffer | undefined,
  hash: string,
): AskPosition {
  const known = new Set(nodes);
  return async (address, idx) => {
    if (!known.has(address)) return { reason: `${address} is not another node of this config` };
    const answer = await fetchClusterDoc(address, {
      scheme,
      hash,
      timeoutMs: CONFIRM_TIMEOUT_MS,
      ...(ca === undefined ? {} : { ca }),
    });
    if (answer.kind === 'silent')
      return { reason: `its /cluster was not read within ${String(CONFIRM_TIMEOUT_MS)} ms: ${answer.cause}` };
    if (answer.kind === 'unread') return { reason: answer.reason };
    if (answer.kind === 'differs')
      return { reason: `it routes with config ${String(answer.version)}, this node with ${hash}` };
    const seq = positionIn(answer.doc, address, idx);
    if (seq === undefined) return { reason: `its /cluster lists no replica store of shard ${String(idx)}` };
    return { seq };
  };
}

/** WatchedStart is what a refusal names of a leader store watched since its start (behind-leaders.ts, Watched). */
export interface WatchedStart {
  st: { shard: { name: string } };
  /** startSeq is the store's last seq when it opened. */
  startSeq: number;
}

/**
 * unconfirmedError refuses a pull whose claim (`replica` through `seq`) was not confirmed
 * (`reason`): the shard is served, but that pull, above the leader's seq, would be told
 * REPLICA_AHEAD and resync; a real replica keeps its records and asks again.
 */
export function unconfirmedError(w: WatchedStart, replica: string, seq: number, reason: string): DistkvError {
  return new DistkvError(
    'LEADER_BEHIND',
    `this pull claims that replica ${replica} of ${w.st.shard.name} holds records through seq ${String(seq)}, above the seq ${String(w.startSeq)} its leader here started with, but the replica's node did not confirm it (${reason}): the shard is served and this pull refused; a replica that is ahead keeps its records and asks again (docs/failover.md, "A leader that starts behind its replica")`,
  );
}
