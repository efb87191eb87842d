/**
 * What the peer check knows, for /metrics, read when scraped, one series per node this process
 * hosts: whether each peer of the config answers, and the slot disputes (docs/operations.md, "When
 * the nodes disagree about the config") of its slot gate:
 *
 *   distkv_peer_up{node,peer}               gauge; 1 when the peer answered its last check (every
 *                                           2 s), 0 when it did not; no series before the first
 *                                           check ends. Without it a dead peer showed only in
 *                                           `/cluster`, or as errors once clients hit its slots
 *   distkv_disputed_slots{node}             gauge; slots the node refuses (503 SLOTS_DISPUTED,
 *                                           RESP -TRYAGAIN) because a peer's config gives them
 *                                           another leader: 0 while every peer agrees
 *   distkv_peer_disputed_slots{node,peer}   gauge; the slots disputed with each peer of the
 *                                           config (0 for a peer that agrees or never answered)
 *
 * The dispute gauges show a dispute while no client asks for its slots, which the SLOTS_DISPUTED count of
 * `distkv_http_requests_total` does not. The nodes of one process share one peer check, so their
 * series have the same values.
 */
import { Gauge, type Registry } from 'prom-client';
import { slotCount } from '../routing/slot-dispute.js';
import type { PeerCheck } from './peer-check.js';

/** registerPeerMetrics exposes `peers`' reachability and the disputed slots of its gate for each of `nodes` (see the module comment). */
export function registerPeerMetrics(registry: Registry, nodes: readonly string[], peers: PeerCheck): void {
  new Gauge({
    name: 'distkv_peer_up',
    help: 'Whether each peer of the config answered its last check (1) or not (0)',
    labelNames: ['node', 'peer'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { address, state } of peers.view()) {
        if (state === 'unknown') continue;
        for (const node of nodes) this.set({ node, peer: address }, state === 'unreachable' ? 0 : 1);
      }
    },
  });
  new Gauge({
    name: 'distkv_disputed_slots',
    help: "Slots this node refuses because a peer's config gives them another leader (0: no dispute)",
    labelNames: ['node'],
    registers: [registry],
    collect() {
      const n = slotCount(peers.gate.refused());
      for (const node of nodes) this.set({ node }, n);
    },
  });
  new Gauge({
    name: 'distkv_peer_disputed_slots',
    help: 'Slots disputed with each peer of the config (0: it agrees, or never disagreed)',
    labelNames: ['node', 'peer'],
    registers: [registry],
    collect() {
      this.reset();
      const disputes = peers.gate.list();
      for (const { address } of peers.view()) {
        const n = slotCount(disputes.find((d) => d.peer === address)?.ranges ?? []);
        for (const node of nodes) this.set({ node, peer: address }, n);
      }
    },
  });
}
