/**
 * EtcdClusterGuard: the coordinator's side of the etcd cluster check (etcd-cluster-check.ts,
 * docs/failover.md, "Members on different etcd clusters"): it keeps the id of the etcd cluster this
 * process's reads come from, asks the peers once that id is first known (before any campaign: the
 * check's "Order at start"), compares their ids at every reconcile, and logs each change: an error
 * naming both clusters and their endpoints when they differ, a line when they agree again.
 *
 * A peer that answers, runs `[coordination]` and has not named its etcd cluster yet (it is
 * starting) holds this node's campaigns back (`waitsFor`), but only for START_HOLD_TTLS lease TTLs
 * after this node first read its etcd: that is the start race the hold is for. Later, a peer that
 * restarts and replays its log for minutes must not hold the failover of its shards back that long.
 *
 * State written only by the coordinator's one reconcile at a time.
 */
import type { Logger } from 'pino';
import type { PeerView } from '../server/peer-check.js';
import {
  clusterIdText,
  type EtcdIdentity,
  type EtcdSplit,
  endpointsShown,
  etcdSplit,
} from './etcd-cluster-check.js';

/** START_HOLD_TTLS bounds, in lease TTLs from this node's first read of etcd, how long a starting peer holds its campaigns back. */
export const START_HOLD_TTLS = 5;

/** PeerOfCoordinator is what the coordinator reads of a peer (PeerCheck.view): its config and its etcd cluster. */
export type PeerOfCoordinator = Pick<
  PeerView,
  'address' | 'state' | 'etcd_cluster_id' | 'etcd' | 'etcd_pending'
>;

/** EtcdClusterGuard compares this node's etcd cluster with its peers'; see the design block above. */
export class EtcdClusterGuard {
  /** identity is the etcd cluster this process's reads last came from (undefined: none yet). */
  private identity: EtcdIdentity | undefined;
  /** split is the last comparison (etcdSplit). */
  private split: EtcdSplit = { kind: 'same' };
  /** asked: the peers were asked once this node's id was known. */
  private asked = false;
  /** pending are the answering peers that run `[coordination]` but named no etcd cluster yet, as last logged. */
  private pending: readonly string[] = [];
  /** firstRead is when this node first learnt its etcd cluster id (performance.now(); undefined: not yet). */
  private firstRead: number | undefined;
  private readonly holdMs: number;
  private readonly endpoints: readonly string[];
  private readonly hosted: readonly string[];
  private readonly peers: () => readonly PeerOfCoordinator[];
  private readonly askPeers: () => Promise<void>;
  private readonly log: Logger;

  /**
   * `endpoints` are `[coordination] etcd`, `hosted` this process's node addresses, `peers` the peer
   * checks' view and `askPeers` a round of them (PeerCheck.checkAll).
   */
  constructor(
    endpoints: readonly string[],
    hosted: readonly string[],
    peers: () => readonly PeerOfCoordinator[],
    askPeers: () => Promise<void>,
    log: Logger,
    ttlMs: number,
  ) {
    this.holdMs = START_HOLD_TTLS * ttlMs;
    this.endpoints = endpointsShown(endpoints);
    this.hosted = [...new Set(hosted)];
    this.peers = peers;
    this.askPeers = askPeers;
    this.log = log;
  }

  /** view is this process's etcd cluster (undefined before its first read) and the last comparison. */
  view(): { identity: EtcdIdentity | undefined; split: EtcdSplit } {
    return { identity: this.identity, split: this.split };
  }

  /**
   * waitsFor lists the peers that answer, run `[coordination]` and named no etcd cluster yet (they
   * are starting), as of the last `standsAside`, while this node starts (START_HOLD_TTLS): no
   * campaign until they do (see "Order at start").
   */
  waitsFor(): readonly string[] {
    return this.pending;
  }

  /** refusal is why this node takes no part now (undefined: it takes part). */
  refusal(): string | undefined {
    return this.split.kind === 'split' && !this.split.takesPart ? this.split.message : undefined;
  }

  /**
   * standsAside takes note of `clusterId` (the header of a read of etcd; undefined: not known),
   * asks the peers the first time, compares, and tells whether this node takes no part now.
   */
  async standsAside(clusterId: string | undefined): Promise<boolean> {
    if (clusterId === undefined) return false;
    const mine: EtcdIdentity = { id: clusterIdText(clusterId), etcd: this.endpoints };
    this.identity = mine;
    this.firstRead ??= performance.now();
    if (!this.asked) {
      this.asked = true;
      await this.askPeers();
    }
    const peers = this.peers().map((p) => ({
      address: p.address,
      etcd: p.etcd_cluster_id === undefined ? undefined : { id: p.etcd_cluster_id, etcd: p.etcd ?? [] },
    }));
    const starting = performance.now() - this.firstRead < this.holdMs;
    const pending = starting
      ? this.peers()
          .filter((p) => p.etcd_pending === true)
          .map((p) => p.address)
      : [];
    if (pending.join() !== this.pending.join() && pending.length > 0)
      this.log.info(
        { peers: pending },
        `no campaign until ${pending.join(', ')} name their etcd cluster (they run [coordination] and are starting): a member on another etcd cluster must be seen before it could lead there`,
      );
    this.pending = pending;
    const was = this.split;
    const now = etcdSplit(mine, this.hosted, peers);
    this.split = now;
    if (now.kind === 'split' && (was.kind !== 'split' || was.message !== now.message))
      this.log.error(
        {
          etcd_cluster_id: mine.id,
          etcd: mine.etcd,
          other_etcd_clusters: now.others.map((o) => ({
            node: o.address,
            etcd_cluster_id: o.etcd.id,
            etcd: o.etcd.etcd,
          })),
        },
        now.message,
      );
    else if (now.kind === 'same' && was.kind === 'split')
      this.log.info(
        { etcd_cluster_id: mine.id },
        `no peer names another etcd cluster than this node's (${mine.id}) any more: it takes part in coordination again`,
      );
    return this.refusal() !== undefined;
  }
}
