/**
 * A replica store's lag in `/stats` (src/replication/replica-stats.ts) is the lag /cluster and
 * /metrics report: for a replica whose leader is in this process, measured against the leader's
 * published seq, so a caught-up replica lags 0 ms there too (it showed the time since its last
 * pull's answer, up to a second, while /cluster said 0).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Follower } from '../../src/replication/follower.js';
import {
  FOLLOWER_STATES,
  Positions,
  SLOT_CAUGHT_UP_AT,
  SLOT_CONTACT_AT,
  SLOT_LAST_SEQ,
  SLOT_LEADER_SEQ,
  SLOT_STATE,
} from '../../src/replication/positions.js';
import { replicaLag } from '../../src/replication/lag.js';
import { followerStats } from '../../src/replication/replica-stats.js';

const LEADER = 0;
const REPLICA = 1;

/** follower is a stand-in Follower with the fields followerStats reads. */
const follower = {
  current: () => ({ state: 'streaming', leaderSeq: 5, lastError: '' }),
  counters: { batches: 0, records: 0, resyncs: 0, errors: 0, staleBatches: 0 },
  sourceCounters: () => undefined,
} as unknown as Follower;

/** positions of a leader at `leaderSeq` and its replica at `ack`, answered 100 ms ago, caught up 900 ms ago. */
function positions(leaderSeq: number, ack: number): Positions {
  const p = new Positions(new SharedArrayBuffer(Positions.bytesFor(2)));
  const now = Date.now();
  p.set(LEADER, SLOT_LAST_SEQ, leaderSeq);
  p.set(REPLICA, SLOT_LAST_SEQ, ack);
  p.set(REPLICA, SLOT_LEADER_SEQ, 5);
  p.set(REPLICA, SLOT_STATE, FOLLOWER_STATES.indexOf('streaming'));
  p.set(REPLICA, SLOT_CONTACT_AT, now - 100);
  p.set(REPLICA, SLOT_CAUGHT_UP_AT, now - 900);
  return p;
}

describe('replica stats figures', () => {
  it('reports a caught-up replica of a leader in this process 0 ms behind, as /cluster does', () => {
    const p = positions(5, 5);
    const st = followerStats(follower, p, REPLICA, 1000, LEADER);
    const cluster = replicaLag(p, REPLICA, p.get(LEADER, SLOT_LAST_SEQ), 1000);
    assert.ok(cluster.known);
    assert.equal(cluster.lagMs, 0);
    assert.equal(st.lagMs, 0);
    assert.equal(st.lagSeqs, 0);
  });

  it("measures its seqs behind against the leader's published seq", () => {
    const st = followerStats(follower, positions(9, 5), REPLICA, 1000, LEADER);
    assert.equal(st.lagSeqs, 4, 'the leader is at 9, not at the 5 the replica last heard');
    assert.ok(Number(st.lagMs) >= 900, `not caught up since: ${st.lagMs}`);
  });

  it('reports a replica of a leader elsewhere by its last pull, as before', () => {
    const st = followerStats(follower, positions(9, 5), REPLICA, 1000);
    assert.equal(st.lagSeqs, 0);
    assert.ok(Number(st.lagMs) >= 900);
  });
});
