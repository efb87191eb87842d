/**
 * Replica lag as the main thread reports it (X-Distkv-Lag, /cluster, `max_lag_ms`), read from the
 * positions a replica's worker publishes (src/replication/positions.ts). Design section 6: a replica
 * that cannot reach its leader reports its lag as unknown, never 0.
 *
 * Known vs unknown: the lag is known while the follower is `streaming` or `catching-up` and its
 * leader answered within `pull_wait_ms + CONTACT_GRACE_MS` (a long poll answers within
 * `pull_wait_ms`; a pull that hangs longer is a lost leader even before its timeout fires).
 * Otherwise the replica is `disconnected` (or `starting` / `resyncing`, or `held`: a promotion
 * stopped it following), with the time since its last contact; or `disk-failed`, with the code of
 * the failure (`localError`: DISK_FULL, DISK_IO_ERROR, READ_ONLY_FS, ...), when what stopped it
 * was its own disk (local-failure.ts), not its leader, from that failure until a resync or a pull
 * succeeds, resync attempts included. Such a replica showed `disconnected`, and an operator went
 * to the leader's machine while the replica's own disk was full.
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
  type LocalErrorCode,
  localErrorOf,
  type Positions,
  SLOT_CAUGHT_UP_AT,
  SLOT_CONTACT_AT,
  SLOT_LAST_SEQ,
  SLOT_LEADER_SEQ,
  SLOT_LOCAL_ERROR,
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
      state: Exclude<FollowerState, 'streaming' | 'catching-up'> | 'disk-failed';
      ackedSeq: number;
      /** lastContactMsAgo is undefined when the leader never answered since this replica started. */
      lastContactMsAgo: number | undefined;
      /** localError is the code of the replica's own disk's failure; set exactly when state is `disk-failed`. */
      localError?: LocalErrorCode;
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
  if (!following || lastContactMsAgo === undefined || lastContactMsAgo > pullWaitMs + CONTACT_GRACE_MS) {
    // Its own disk stopped it (the follower went `disconnected` with it): said as such, and still
    // while it tries a resync again (`resyncing`; the follower keeps the code until a resync or a
    // pull succeeds): a replica whose every resync fails on its full disk showed a bare
    // `resyncing` for the whole of each attempt, `disk-failed` only in the backoff between two
    // (test/unit/resync-disk-full-shown.test.ts). Its leader's view tells an attempt's progress.
    const localError =
      state === 'disconnected' || state === 'resyncing'
        ? localErrorOf(p.get(index, SLOT_LOCAL_ERROR))
        : undefined;
    if (localError !== undefined)
      return { known: false, state: 'disk-failed', ackedSeq, lastContactMsAgo, localError };
    return { known: false, state: following ? 'disconnected' : state, ackedSeq, lastContactMsAgo };
  }
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
  if (lag.localError !== undefined)
    return lag.lastContactMsAgo === undefined
      ? `${lag.state}; local-error=${lag.localError}; no-contact`
      : `${lag.state}; local-error=${lag.localError}; last-contact-ms=${lag.lastContactMsAgo}`;
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
  if (!lag.known && lag.localError !== undefined)
    return `its own disk failed (${lag.localError}): it cannot apply what its leader sends (its log and /stats lastError say why)`;
  if (!lag.known)
    return lag.lastContactMsAgo === undefined
      ? `it is ${lag.state} and has not reached its leader since it started`
      : `it is ${lag.state}; its leader last answered ${lag.lastContactMsAgo} ms ago`;
  return lag.lagMs === undefined
    ? `it is ${lag.state} and has not caught up with its leader yet (${lag.lagSeqs} seqs behind)`
    : `it last held all its leader had ${lag.lagMs} ms ago (${lag.lagSeqs} seqs behind now)`;
}
