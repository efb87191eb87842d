/**
 * Campaign: a replica taking the leader key of a shard whose leader is gone, then promoting its
 * store (docs/failover.md, "Automatic failover with etcd").
 *
 * A replica campaigns only when all of these hold, checked in this order:
 *   - the gate lets it (campaign-gate.ts): the map's leader had its chance to take the key, and a
 *     key seen going went a tick ago, so every live member has published its seq since;
 *   - it ranks first on the published seqs of the shard's live members (candidate-rank.ts), its own
 *     being the seq its hold answered (seq-publisher.ts);
 *   - no member seen publishing a moment ago has stopped (its lease may have lapsed in a pause: the
 *     gate waits LAPSED_GRACE_TTLS TTLs for it to publish again);
 *   - its lease is at least a TTL old: when every lease went at once (etcd lost its data, a mass
 *     expiry), the others' seqs may be missing only because they have not published again yet;
 *   - the map's leader did not last answer routing with another config (config-peers.ts): it may
 *     still lead the shard under that config's etcd keys. Checked first: while it holds the shard
 *     back, the gate's clock is started again (`restart`), so once that leader answers with this
 *     node's config it gets a whole TTL to take its key, as a starting leader does. Before, the key
 *     had been missing since this node started, and a replica campaigned in the moment between the
 *     leader's first answer (its front door serves before its coordinator runs) and its key: a
 *     rolling change of the file handed the shard to a replica whose pulls the change had stopped.
 * Then it creates the key (only if none exists); its create revision is the new epoch's fencing
 * token, and the promotion goes through etcd (self-promotion.ts).
 */
import type { LiveMap, LiveShard } from '../routing/live-map.js';
import type { NodePlan } from '../server/node-plan.js';
import type { CampaignGate } from './campaign-gate.js';
import { ranksFirst } from './candidate-rank.js';
import type { EtcdKeyspace, Snapshot } from './etcd-keyspace.js';
import type { ProcessLease } from './process-lease.js';
import type { Promotion } from './self-promotion.js';
import type { SeqPublisher } from './seq-publisher.js';

/** CampaignDeps are what a campaign uses of its coordinator. */
export interface CampaignDeps {
  keys: EtcdKeyspace;
  gate: CampaignGate;
  lease: ProcessLease;
  seqs: SeqPublisher;
  ttlMs: number;
  /** promote stores and adopts the promotion of a store that won its key; resolves with whether it did. */
  promote: (p: Promotion, source: string) => Promise<boolean>;
  /** otherConfig tells whether `shard`'s map leader routes with another config (and says so in the log). */
  otherConfig: (shard: LiveShard) => boolean;
}

/**
 * campaignFor runs store `st`'s side of `shard`'s election (see above) while this process does not
 * lead the shard: `snap` is the reconcile's read, `lease` the lease it acts under, `mine` the map
 * `shard` comes from.
 */
export async function campaignFor(
  d: CampaignDeps,
  st: NodePlan['stores'][number],
  shard: LiveShard,
  snap: Snapshot,
  lease: string,
  mine: LiveMap,
): Promise<void> {
  const holder = snap.leaders.get(shard.name)?.value.toString();
  // A leader on another config holds the shard back, and its return starts the gate's wait again.
  if (holder === undefined && st.role === 'replica' && d.otherConfig(shard)) {
    d.gate.restart(shard.idx);
    return;
  }
  const seen = { epoch: shard.epoch, leader: shard.leader, holder };
  const now = performance.now();
  const published = snap.seqs.get(shard.name) ?? [];
  const lapsed = d.gate.waitsForLapsed(
    shard.idx,
    published.map((p) => p.address),
    shard.leader,
    st.node,
    now,
  );
  if (!d.gate.mayCampaign(shard.idx, seen, now)) return;
  if (st.role !== 'replica') return;
  const seq = d.seqs.seqOf(st.index);
  const others = published.filter((p) => p.address !== st.node);
  if (!ranksFirst(st.node, seq, others) || lapsed) return;
  if (!d.lease.heldFor(d.ttlMs)) return;
  const won = await d.keys.putLeader(shard.name, st.node, lease, undefined);
  if (won === undefined) return;
  const p = { mine, shard, node: st.node, store: st.index, worker: st.worker, won };
  await d.promote(p, 'etcd (automatic failover)');
}
