/**
 * Start steps: the coordinator's start (etcd-coordinator.ts `start`: a lease, the map read and
 * reconciled, the watch created) as steps with a bound each, in tries a tick apart (docs/failover.md,
 * "Automatic failover with etcd").
 *
 * A node with `[coordination]` serves only once a try succeeded, and up to START_ATTEMPTS tries are
 * made. Before, a failed try said nothing until every try had failed (with a 20 s lease, up to 50 s
 * of silence), and a step that never answered hung the start for good without a word: the lease
 * grant had no deadline (etcd3 ignores `dialTimeout`), nor has a watch's creation (etcd3 reconnects
 * its stream for ever and `create()` waits for it). Now:
 *   - each failed try logs one warning at once (`startTries`): which try of how many, the etcd
 *     endpoints, the cause and when the next try runs; the error after the last try is unchanged;
 *   - each step is bounded (`within`): one that has not answered by its bound fails the try with
 *     a cause naming the step ("creating the watch on <prefix> did not answer within N ms"); a
 *     reconcile names the part it was in (`Phase`: the map read, a shard's leader key or campaign);
 *   - the watch is created through `createdWatch`, which gives up on it at its bound (cancelled) and
 *     names the last error of its stream.
 */
import type { Etcd3, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import { within } from '../util/within.js';
import { etcdErrorText } from './etcd-error-text.js';

/** START_ATTEMPTS bounds the tries to reach etcd and reconcile once before the node serves. */
export const START_ATTEMPTS = 10;

/** Phase tracks the part of a reconcile that runs now, so a bound that expires names it. */
export class Phase {
  /** now is what the reconcile does at the moment ('' : nothing running). */
  now = '';
}

/**
 * createdWatch creates a watch on `prefix` and resolves once etcd acknowledged it, or fails after
 * `ms` (the watch cancelled) naming the step and the last error its stream saw.
 */
export async function createdWatch(etcd: Etcd3, prefix: string, ms: number): Promise<Watcher> {
  // watcher() attaches it to the watch stream at once; create() would wait for 'connected' for ever.
  const watcher = etcd.watch().prefix(prefix).watcher();
  let cause = '';
  const onDisconnected = (err: Error): void => {
    cause = etcdErrorText(err);
  };
  watcher.on('disconnected', onDisconnected);
  let onConnected = (): void => undefined;
  let onError: (err: Error) => void = () => undefined;
  const created = new Promise<Watcher>((resolve, reject) => {
    onConnected = () => {
      resolve(watcher);
    };
    onError = reject;
  });
  watcher.once('connected', onConnected).once('error', onError);
  try {
    return await within(`creating the watch on ${prefix}`, ms, created, () =>
      cause === '' ? '' : `its stream last failed with: ${cause}`,
    );
  } catch (err) {
    // Not awaited: a cancel waits for an acknowledgement that may never come either.
    void watcher.cancel().catch(() => undefined);
    throw err;
  } finally {
    watcher.off('disconnected', onDisconnected).off('connected', onConnected).off('error', onError);
  }
}

/** StartTries are what `startTries` needs to know. */
export interface StartTries {
  /** endpoints are `[coordination] etcd`, named in every warning and in the final error. */
  endpoints: readonly string[];
  /** pauseMs is the wait between two tries (the coordinator's tick). */
  pauseMs: number;
  log: Logger;
  /** failed sees the error of each failed try first (the coordinator drops a lease etcd expired). */
  failed: (err: unknown) => void;
  /** stopped tells whether the coordinator was stopped meanwhile: no more tries then. */
  stopped: () => boolean;
}

/**
 * startTries runs `attempt` until it succeeds, START_ATTEMPTS times at most, `pauseMs` apart: each
 * failed try but the last is logged at warn at once; after the last it throws, naming the first
 * cause and the last, and what to do.
 */
export async function startTries(o: StartTries, attempt: () => Promise<void>): Promise<void> {
  const etcd = o.endpoints.join(', ');
  // The first failure names the cause (ECONNREFUSED); later ones may be the etcd client's own
  // "circuit breaker is open", which was all the refusal said.
  let first: string | undefined;
  for (let n = 1; ; n++) {
    try {
      await attempt();
      return;
    } catch (err) {
      o.failed(err);
      // grpc-js's text ended with an empty "Resolution note:" (etcd-error-text.ts).
      const why = etcdErrorText(err);
      first ??= why;
      if (o.stopped())
        throw new Error(
          `etcd ${etcd} (coordination): stopped during its start, whose try ${n} failed with: ${why}`,
        );
      if (n >= START_ATTEMPTS)
        throw new Error(
          `etcd ${etcd} (coordination): ${START_ATTEMPTS} tries to take a lease and read the map failed, the first with: ${first}${why === first ? '' : `; the last with: ${why}`}. Start etcd (or correct coordination.etcd) before distkv serve: with [coordination] a node serves only once etcd gave it a lease and the map`,
        );
      o.log.warn(
        { try: n, of: START_ATTEMPTS, etcd, retryInMs: o.pauseMs },
        `etcd ${etcd} (coordination): start try ${n} of ${START_ATTEMPTS} failed: ${why}; trying again in ${o.pauseMs} ms (the node serves once a try succeeds)`,
      );
      await new Promise((r) => setTimeout(r, o.pauseMs));
      if (o.stopped())
        throw new Error(
          `etcd ${etcd} (coordination): stopped during its start, after try ${n} failed with: ${why}`,
        );
    }
  }
}
