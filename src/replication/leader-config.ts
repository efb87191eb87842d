/**
 * Leader config: whether a replica may copy a leader whose node routes with another sharding.toml
 * (docs/failover.md, "A rolling config change").
 *
 * A leader refuses the pulls and snapshots of a replica whose node routes with another config
 * (409 CONFIG_MISMATCH, src/http/repl-routes.ts): under the other file the shard may cover other
 * slots, and a copy would hold keys the replica's reads are not routed to and lack keys they are.
 * During a rolling change of the file that refusal stopped every replica restarted on the new file
 * from copying its leader, still on the old one, for the whole change: `w=1` writes timed out once
 * no replica on the old file was left, and the leader's graceful stop found no replica holding its
 * last seq, so a replica that took the shard over lacked what the leader had acknowledged since.
 *
 * When both files give the shard the same thing, the refusal protects nothing: the same index and
 * name, the same slots, the same leader (the node pulled from) and this replica among its members.
 * The replica then reads the leader's `/cluster` and, when it shows exactly that, pulls under the
 * leader's config hash (http-source.ts); the leader still refuses a replica its own file does not
 * list (403 UNKNOWN_REPLICA), and `w` counts only those. Anything else (another slot range, another
 * leader in the leader's live map, this replica not listed, an answer that cannot be read) keeps the
 * replica's own hash, and the refusal, as before.
 */

/** ShardCopy is what the replica expects the leader's node to say of the shard. */
export interface ShardCopy {
  idx: number;
  name: string;
  first: number;
  last: number;
  /** leader is the node pulled from ("host:port"). */
  leader: string;
  /** replica is this replica's node address. */
  replica: string;
}

/**
 * leaderConfigFor returns the config hash of a leader's `/cluster` answer `doc` when its config
 * gives the shard `want` describes the same slots and leader with `want.replica` among its
 * replicas (see above); undefined otherwise.
 */
export function leaderConfigFor(doc: unknown, want: ShardCopy): string | undefined {
  const d = (doc ?? {}) as { version?: unknown; shards?: unknown };
  if (typeof d.version !== 'string' || d.version === '' || !Array.isArray(d.shards)) return undefined;
  const s = (d.shards as unknown[]).find(
    (x) => typeof x === 'object' && x !== null && (x as { idx?: unknown }).idx === want.idx,
  ) as { name?: unknown; slots?: unknown; leader?: { address?: unknown }; replicas?: unknown } | undefined;
  if (s === undefined || s.name !== want.name) return undefined;
  if (!Array.isArray(s.slots) || s.slots[0] !== want.first || s.slots[1] !== want.last) return undefined;
  if (s.leader?.address !== want.leader || !Array.isArray(s.replicas)) return undefined;
  const listed = (s.replicas as unknown[]).some(
    (r) => typeof r === 'object' && r !== null && (r as { address?: unknown }).address === want.replica,
  );
  return listed ? d.version : undefined;
}
