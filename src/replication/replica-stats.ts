/**
 * The replication fields of a replica store's stats (`GET /stats`, `distkv stats`): its follower's
 * state, ack, leader seq, lag as lag.ts reports it (unknown, never 0, while the leader is out of
 * reach: design section 6), the follower's counters, and a ring replica's source's (RingCounters).
 */
import type { Follower } from './follower.js';
import { replicaLag } from './lag.js';
import { type Positions, SLOT_LAST_SEQ } from './positions.js';

/**
 * followerStats is replica store `index`'s replication fields (see above). `leaderStore` is its
 * leader's store index when the leader is in this process: its lag is then measured against the
 * leader's published seq, as /cluster and /metrics measure it (a caught-up replica lags 0 ms, where
 * the time since its last pull's answer showed up to a second).
 */
export function followerStats(
  f: Follower,
  positions: Positions,
  index: number,
  pullWaitMs: number,
  leaderStore?: number,
): Record<string, number | string> {
  const c = f.current();
  const liveLeaderSeq = leaderStore === undefined ? undefined : positions.get(leaderStore, SLOT_LAST_SEQ);
  const lag = replicaLag(positions, index, liveLeaderSeq, pullWaitMs);
  return {
    replicaState: lag.known ? c.state : lag.state,
    replicaAck: lag.ackedSeq,
    leaderSeq: c.leaderSeq,
    ...(lag.known
      ? { lagSeqs: lag.lagSeqs, ...(lag.lagMs === undefined ? {} : { lagMs: lag.lagMs }) }
      : { lagSeqs: 'unknown' }),
    ...(lag.lastContactMsAgo === undefined ? {} : { lastContactMsAgo: lag.lastContactMsAgo }),
    replicaErrors: f.counters.errors,
    resyncs: f.counters.resyncs,
    staleBatches: f.counters.staleBatches,
    // A ring replica's: batches taken from the ring, and pulls its leader's log answered instead.
    ...f.sourceCounters(),
    ...(c.lastError === '' ? {} : { lastError: c.lastError }),
  };
}
