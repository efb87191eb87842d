/**
 * Slot disputes for /metrics (docs/operations.md, "When the nodes disagree about the config"),
 * read from the peer check's slot gate when scraped, one series per node this process hosts:
 *
 *   distkv_disputed_slots{node}             gauge; slots the node refuses (503 SLOTS_DISPUTED,
 *                                           RESP -TRYAGAIN) because a peer's config gives them
 *                                           another leader: 0 while every peer agrees
 *   distkv_peer_disputed_slots{node,peer}   gauge; the slots disputed with each peer of the
 *                                           config (0 for a peer that agrees or never answered)
 *
 * They show a dispute while no client asks for its slots, which the SLOTS_DISPUTED count of
 * `distkv_http_requests_total` does not. The nodes of one process share one peer check, so their
 * series have the same values.
 */
import { Gauge, type Registry } from 'prom-client';
import { slotCount } from '../routing/slot-dispute.js';
import type { PeerCheck } from './peer-check.js';

/** registerDisputeMetrics exposes the disputed slots of `peers`' gate for each of `nodes` (see the module comment). */
export function registerDisputeMetrics(registry: Registry, nodes: readonly string[], peers: PeerCheck): void {
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
