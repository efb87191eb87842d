/**
 * distkv_peer_up (src/server/peer-metrics.ts): each peer of the config that answered its last
 * check is 1, one that did not is 0, one not checked yet has no series; one series per hosted node.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import type { PeerCheck, PeerView } from '../../src/server/peer-check.js';
import { registerPeerMetrics } from '../../src/server/peer-metrics.js';

function peersSaying(view: PeerView[]): PeerCheck {
  return { view: () => view, gate: { refused: () => [], list: () => [] } } as unknown as PeerCheck;
}

test('distkv_peer_up: 1 for a peer that answered, 0 for one that did not, none before a check', async () => {
  const view: PeerView[] = [
    { address: '127.0.0.2:4001', state: 'agrees' },
    { address: '127.0.0.3:4001', state: 'disagrees' },
    { address: '127.0.0.4:4001', state: 'unreachable' },
    { address: '127.0.0.5:4001', state: 'unknown' },
  ];
  const registry = new Registry();
  registerPeerMetrics(registry, ['127.0.0.1:4001', '127.0.0.1:4002'], peersSaying(view));
  const text = await registry.metrics();
  const up = text.split('\n').filter((l) => l.startsWith('distkv_peer_up{'));
  assert.deepEqual(up.sort(), [
    'distkv_peer_up{node="127.0.0.1:4001",peer="127.0.0.2:4001"} 1',
    'distkv_peer_up{node="127.0.0.1:4001",peer="127.0.0.3:4001"} 1',
    'distkv_peer_up{node="127.0.0.1:4001",peer="127.0.0.4:4001"} 0',
    'distkv_peer_up{node="127.0.0.1:4002",peer="127.0.0.2:4001"} 1',
    'distkv_peer_up{node="127.0.0.1:4002",peer="127.0.0.3:4001"} 1',
    'distkv_peer_up{node="127.0.0.1:4002",peer="127.0.0.4:4001"} 0',
  ]);
  // A peer that comes back: the next scrape says so, and a peer gone from the view has no series.
  view.splice(0, view.length, { address: '127.0.0.4:4001', state: 'agrees' });
  const again = (await registry.metrics()).split('\n').filter((l) => l.startsWith('distkv_peer_up{'));
  assert.deepEqual(again.sort(), [
    'distkv_peer_up{node="127.0.0.1:4001",peer="127.0.0.4:4001"} 1',
    'distkv_peer_up{node="127.0.0.1:4002",peer="127.0.0.4:4001"} 1',
  ]);
});
