/**
 * Campaign: a replica taking the leader key of a shard whose leader is gone, then promoting its
 * store (docs/failover.md, "Automatic failover with etcd").
 *
 * A replica campaigns only when all of these hold, checked in this order:
 *   - the gate lets it (campaign-gate.ts): the map's leader had its chance to take the key, and a
 *     key seen going went a tick ago, so every live member has published its seq since;
 *   - its store could take writes as a leader (`promotionRefusal`): not one whose store refuses
 *     every write (its directory removed or replaced while it runs: STORE_DIR_LOST, positions.ts
 *     SLOT_STORE_ERROR; what it holds is gone at its next start). A replica whose own disk failed
 *     (DISK_FULL, ...: SLOT_LOCAL_ERROR) still campaigns: what it holds is intact, as leader it
 *     takes writes again once its disk has room, and its follower clears that code at the next
 *     failed pull of a dead leader anyway. Logged once each time the code changes (and when it
 *     clears);
 *   - when this process has not seen the shard's key held since it started (a cold restart of
 *     every member), every member but the map's leader has published its seq since it started
 *     (`unheard`): a member never heard from may hold acknowledged writes this one lacks. Logged
 *     once each time whom it waits for changes, with the `distkv failover --force` that takes
 *     over without them;
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
import type { Logger } from 'pino';
import type { LiveMap, LiveShard } from '../routing/live-map.js';
import type { LocalErrorCode } from '../replication/positions.js';
import type { NodePlan } from '../server/node-plan.js';
import type { WorkerPool } from '../server/worker-pool.js';
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
  /** refusal is the code of what keeps store `index` here from leading (`promotionRefusal`), or undefined. */
  refusal: (index: number) => LocalErrorCode | undefined;
  log: Logger;
}

/**
 * promotionRefusal is the code of what keeps `pool`'s store `index` from leading, or undefined:
 * its store refuses every write (SLOT_STORE_ERROR: STORE_DIR_LOST). Not a replica's own disk
 * failure (see the design block).
 */
export function promotionRefusal(
  pool: Pick<WorkerPool, 'storeError'>,
  index: number,
): LocalErrorCode | undefined {
  return pool.storeError(index);
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
  const may = d.gate.mayCampaign(shard.idx, seen, now);
  if (st.role !== 'replica') return;
  const refused = d.refusal(st.index);
  if (d.gate.refusalChanged(shard.idx, refused)) logRefusal(d, shard, st.node, refused);
  if (refused !== undefined) return;
  const members = [shard.leader, ...shard.replicas];
  const unheard = d.gate.unheard(shard.idx, members, shard.leader, st.node);
  // Said only once the gate's own wait is over: every member of a cold start is unheard at first.
  if (may || unheard.length === 0) logWait(d, shard, unheard);
  if (!may || unheard.length > 0) return;
  const seq = d.seqs.seqOf(st.index);
  const others = published.filter((p) => p.address !== st.node);
  if (!ranksFirst(st.node, seq, others) || lapsed) return;
  if (!d.lease.heldFor(d.ttlMs)) return;
  const won = await d.keys.putLeader(shard.name, st.node, lease, undefined);
  if (won === undefined) return;
  const cause = d.gate.heldSince(shard.idx)
    ? `the leader ${shard.leader} lost its lease`
    : `no node has held its leader key since this node started, and every member but the leader ${shard.leader} published its seq since`;
  const p = { mine, shard, node: st.node, store: st.index, worker: st.worker, won, cause };
  await d.promote(p, 'etcd (automatic failover)');
}

/** logWait logs, when it changed, whom `shard`'s campaign waits for (`unheard`, campaign-gate.ts); empty: none now. */
function logWait(d: CampaignDeps, shard: LiveShard, unheard: readonly string[]): void {
  if (!d.gate.waitChanged(shard.idx, unheard)) return;
  if (unheard.length === 0) {
    d.log.info(
      { shard: shard.name },
      `${shard.name}: no longer waiting for members unheard since this node started`,
    );
    return;
  }
  d.log.warn(
    { shard: shard.name, leader: shard.leader, waiting_for: unheard },
    `not taking ${shard.name} over: no node has held its leader key since this node started, and ${unheard.join(', ')} ` +
      `${unheard.length === 1 ? 'has' : 'have'} not published a seq since (one may hold acknowledged writes this node lacks; ` +
      `the leader ${shard.leader} may only be restarting). Waiting, without a time bound, until they do or the leader takes its key; ` +
      `if they are gone for good, distkv failover --shard ${shard.name} --force --to ADDR takes the shard over without them`,
  );
}

/** logRefusal logs why `node` does not campaign for `shard` (its store's `code`), or, undefined, that it may again. */
function logRefusal(d: CampaignDeps, shard: LiveShard, node: string, code: LocalErrorCode | undefined): void {
  if (code === undefined) {
    d.log.info(
      { shard: shard.name, node },
      `${shard.name}: ${node}'s store may take writes again: it may take the shard over`,
    );
    return;
  }
  const why =
    code === 'STORE_DIR_LOST'
      ? `its store refuses every write (${code}: its directory was removed or replaced while the node runs, and what it holds is gone at its next start); its seq is withdrawn, so another replica may take the shard. Stop ${node} and start it with --repair: its store opens empty and resyncs from the leader`
      : `its store refuses writes (${code}): as leader it would refuse them too; its log and /stats lastError name the directory`;

  d.log.warn(
    { shard: shard.name, node, local_error: code },
    `not taking ${shard.name} over on ${node} (disk-failed): ${why}`,
  );
}
