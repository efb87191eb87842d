/**
 * A leader remembers the seqs of the snapshots it served (a replica rebuilt from one pulls from its
 * seq, above what the leader held at its start, and is not told it forked: LeaderState.restartFork),
 * but only the newest MAX_SNAPSHOT_SEQS: it kept one per snapshot served for as long as it led.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeaderState, MAX_SNAPSHOT_SEQS } from '../../src/replication/leader-state.js';

describe('the snapshot seqs a leader remembers', () => {
  it('lets a replica rebuilt from a recent snapshot pull from its seq, and forgets the oldest past the bound', () => {
    let last = 10;
    const leader = new LeaderState(() => last);
    const served = MAX_SNAPSHOT_SEQS + 500;
    for (let i = 1; i <= served; i++) {
      last = 10 + i;
      leader.servedSnapshot(last);
    }
    // The newest snapshot's replica pulls from its seq: no fork.
    assert.equal(leader.restartFork('replica-new', 10 + served), undefined);
    assert.equal(leader.restartFork('replica-edge', 10 + served - MAX_SNAPSHOT_SEQS + 1), undefined);
    // The oldest are forgotten: a replica still at one is told it forked at the leader's start.
    assert.equal(leader.restartFork('replica-old', 11), 10);
    assert.equal(leader.restartFork('replica-dropped', 10 + served - MAX_SNAPSHOT_SEQS), 10);
  });

  it('keeps a snapshot served again at the same seq as the newest', () => {
    let last = 0;
    const leader = new LeaderState(() => last);
    last = 5;
    leader.servedSnapshot(5);
    for (let i = 1; i < MAX_SNAPSHOT_SEQS; i++) {
      last = 5 + i;
      leader.servedSnapshot(last);
    }
    leader.servedSnapshot(5);
    last += 1;
    leader.servedSnapshot(last);
    assert.equal(leader.restartFork('r', 5), undefined);
    assert.equal(leader.restartFork('r2', 6), 0);
  });
});
