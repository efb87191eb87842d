/**
 * Replica lag as the main thread reports it (X-Distkv-Lag, /cluster, `max_lag_ms`), read from the
 * positions a replica's worker publishes (src/replication/positions.ts). Design section 6: a replica
 * that cannot reach its leader reports its lag as unknown, never 0.
 *
 * Known vs unknown: the lag is known while the follower is `streaming` or `catching-up` and its
 * leader answered within `pull_wait_ms + CONTACT_GRACE_MS` (a long poll answers within
 * `pull_wait_ms`; a pull that hangs longer is a lost leader even before its timeout fires).
 * Otherwise the replica is `disconnected` (or `starting` / `resyncing`, or `held`: a promotion
 * stopped it following), with the time since its last contact.
 *
 * Proof of freshness: the follower publishes `caughtUpAt`, the latest time at which one of its
 * pulls was answered with a leader seq it has applied (the leader reads its seq as it answers, so
 * the replica then held everything the leader had acknowledged, up to that answer's transit). A
 * replica is within N ms of its leader when its lag is known and `now - caughtUpAt <= N`, or when
 * its leader is in this process and its published seq is not above the replica's ack.
 */
import {
  FOLLOWER_STATES,
  type FollowerState,
  type Positions,
  SLOT_CAUGHT_UP_AT,
  SLOT_CONTACT_AT,
  SLOT_LAST_SEQ,
  SLOT_LEADER_SEQ,
  SLOT_STATE,
} from './positions.js';

/** CONTACT_GRACE_MS is how long past `pull_wait_ms` a replica waits for its leader before calling it lost. */
export const CONTACT_GRACE_MS = 3000;

/** ReplicaLag is what a replica can say about its distance to its leader. */
export type ReplicaLag =
  | {
      known: true;
      state: 'streaming' | 'catching-up';
      ackedSeq: number;
      lagSeqs: number;
      /** lagMs is how long ago the replica provably held all its leader had; undefined until it first caught up. */
      lagMs: number | undefined;
      lastContactMsAgo: number;
    }
  | {
      known: false;
      state: Exclude<FollowerState, 'streaming' | 'catching-up'>;
      ackedSeq: number;
      /** lastContactMsAgo is undefined when the leader never answered since this replica started. */
      lastContactMsAgo: number | undefined;
    };

/**
 * replicaLag reads replica store `index`'s lag. `liveLeaderSeq` is the leader's published seq when
 * the leader is in this process (exact), else undefined (the seq the leader last answered with is used).
 */
export function replicaLag(
  p: Positions,
  index: number,
  liveLeaderSeq: number | undefined,
  pullWaitMs: number,
  now = Date.now(),
): ReplicaLag {
  const ackedSeq = p.get(index, SLOT_LAST_SEQ);
  const contactAt = p.get(index, SLOT_CONTACT_AT);
  const lastContactMsAgo = contactAt === 0 ? undefined : Math.max(0, now - contactAt);
  const state = FOLLOWER_STATES[p.get(index, SLOT_STATE)] ?? 'starting';
  const following = state === 'streaming' || state === 'catching-up';
  if (!following || lastContactMsAgo === undefined || lastContactMsAgo > pullWaitMs + CONTACT_GRACE_MS)
    return { known: false, state: following ? 'disconnected' : state, ackedSeq, lastContactMsAgo };
  const leaderSeq = liveLeaderSeq ?? p.get(index, SLOT_LEADER_SEQ);
  const caughtUpAt = p.get(index, SLOT_CAUGHT_UP_AT);
  const lagMs =
    liveLeaderSeq !== undefined && ackedSeq >= liveLeaderSeq
      ? 0
      : caughtUpAt === 0
        ? undefined
        : Math.max(0, now - caughtUpAt);
  return {
    known: true,
    state,
    ackedSeq,
    lagSeqs: Math.max(0, leaderSeq - ackedSeq),
    lagMs,
    lastContactMsAgo,
  };
}

/** lagHeader formats X-Distkv-Lag: seqs behind when known, else the state and the time since the last contact. */
export function lagHeader(lag: ReplicaLag): string {
  if (lag.known) return String(lag.lagSeqs);
  return lag.lastContactMsAgo === undefined
    ? `${lag.state}; no-contact`
    : `${lag.state}; last-contact-ms=${lag.lastContactMsAgo}`;
}

/** provablyWithin reports whether a replica provably holds all its leader had `maxLagMs` ago. */
export function provablyWithin(lag: ReplicaLag, maxLagMs: number): boolean {
  return lag.known && lag.lagMs !== undefined && lag.lagMs <= maxLagMs;
}

/** describeLag explains, for a REPLICA_STALE message, why a replica cannot prove it is fresh enough. */
export function describeLag(lag: ReplicaLag): string {
  if (!lag.known)
    return lag.lastContactMsAgo === undefined
      ? `it is ${lag.state} and has not reached its leader since it started`
      : `it is ${lag.state}; its leader last answered ${lag.lastContactMsAgo} ms ago`;
  return lag.lagMs === undefined
    ? `it is ${lag.state} and has not caught up with its leader yet (${lag.lagSeqs} seqs behind)`
    : `it last held all its leader had ${lag.lagMs} ms ago (${lag.lagSeqs} seqs behind now)`;
}
