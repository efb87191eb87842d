/**
 * OtherConfigPeers: the peers that last answered routing with another `sharding.toml` (their
 * `/cluster` carried another config hash: src/server/peer-check.ts), kept until one answers with
 * this node's config again. A peer that stops answering keeps what it last said: it may be
 * restarting, or cut off but alive.
 *
 * With etcd the keys live under the config's hash by default (docs/failover.md, "Automatic failover
 * with etcd"), so a node restarted with an edited file (a replica added, a rolling change)
 * coordinates under other keys than the nodes still on the old file: it sees no leader key for a
 * shard whose leader runs the old file, and its campaign (campaign.ts) took the shard over while
 * that leader went on leading it under the old keys. The new leader started from its replica's
 * position, which stopped at the change (its pulls are refused as CONFIG_MISMATCH), so reads there
 * answered old values, and when the old leader came back with the new file, every write it took
 * since (thousands in a rolling change under load, acknowledged `w=1` ones included) went to its
 * divergence file. A shard whose map leader is such a peer is therefore not campaigned for.
 */
import type { PeerView } from '../server/peer-check.js';

/** OtherConfigPeers tracks which peers route with another config, from the peer checks' view. */
export class OtherConfigPeers {
  private readonly view: () => readonly Pick<PeerView, 'address' | 'state'>[];
  private readonly other = new Set<string>();

  /** `view` lists the peers as the peer checks last saw them (PeerCheck.view). */
  constructor(view: () => readonly Pick<PeerView, 'address' | 'state'>[]) {
    this.view = view;
  }

  /** has tells whether `address` last answered with another config than this node's. */
  has(address: string): boolean {
    for (const p of this.view()) {
      if (p.state === 'disagrees') this.other.add(p.address);
      else if (p.state === 'agrees') this.other.delete(p.address);
    }
    return this.other.has(address);
  }
}
