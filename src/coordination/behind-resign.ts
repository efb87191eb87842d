/**
 * BehindResign: with etcd, a leader held behind its replica gives up its shard's leader key, so
 * the most advanced live member takes the shard over by itself (docs/failover.md, "A leader that
 * starts behind its replica").
 *
 * A leader store that started empty or older than a replica of its shard is held
 * (src/server/behind-leaders.ts): every request on the shard refused with LEADER_BEHIND until a map
 * moves the leader away. Without a coordinator that takes `distkv failover`; with etcd the held
 * leader kept its lease and its key, so no replica campaigned and the shard stayed down until
 * someone ran the command. Now it lets the key go, and the campaign (campaign.ts) promotes the
 * member ranked first on the published seqs; the held node adopts that map and copies the shard.
 *
 * Only on etcd's word: the hold is learnt from a peer's `/cluster` (a replica's pull holds it only
 * once the replica's node confirms it there, behind-confirm.ts), which whoever answers at a node's
 * address can forge (without a node token). A forged sighting holds the shard, as before, but gives
 * up no key unless a live member published a seq above the leader's own under its lease: otherwise
 * a replica behind the leader would win, and the records only the leader held (acknowledged `w=1`
 * writes from before its restart) would go to its divergence file.
 */
import type { BehindReplica } from '../server/map-keeper.js';
import type { Published } from './candidate-rank.js';

/**
 * resignFor names the live member whose published seq lets `node`, the held leader (`behind`,
 * undefined: not held), give up its shard's leader key: the most advanced one above the leader's
 * own seq, or undefined when none is (the key is kept, and the shard stays held).
 */
export function resignFor(
  node: string,
  behind: BehindReplica | undefined,
  published: readonly Published[],
): Published | undefined {
  if (behind === undefined) return undefined;
  let best: Published | undefined;
  for (const p of published)
    if (p.address !== node && p.seq > behind.leaderSeq && (best === undefined || p.seq > best.seq)) best = p;
  return best;
}
