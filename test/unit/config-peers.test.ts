/**
 * OtherConfigPeers (src/coordination/config-peers.ts): a peer that answered with another config is
 * remembered as such while it stops answering (restarting, cut off), and forgotten once it answers
 * with this node's config; a peer never seen disagreeing is not held against a campaign.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OtherConfigPeers } from '../../src/coordination/config-peers.js';
import type { PeerState } from '../../src/server/peer-check.js';

describe('OtherConfigPeers', () => {
  it('keeps a peer that disagreed while it is silent, and drops it once it agrees', () => {
    let states: Record<string, PeerState> = { a: 'unknown', b: 'agrees' };
    const peers = new OtherConfigPeers(() =>
      Object.entries(states).map(([address, state]) => ({ address, state })),
    );
    assert.equal(peers.has('a'), false, 'never answered');
    states = { a: 'disagrees', b: 'agrees' };
    assert.equal(peers.has('a'), true);
    assert.equal(peers.has('b'), false);
    states = { a: 'unreachable', b: 'unreachable' };
    assert.equal(peers.has('a'), true, 'silent after disagreeing: maybe still leading under the other keys');
    assert.equal(peers.has('b'), false, 'silent after agreeing: down, not on another config');
    states = { a: 'agrees', b: 'unreachable' };
    assert.equal(peers.has('a'), false);
    assert.equal(peers.has('c'), false, 'not a peer');
  });
});
