/**
 * etcdClient: the etcd3 client automatic failover talks through (docs/failover.md, "Automatic
 * failover with etcd"), with its fault handling bounded by the lease TTL.
 *
 * etcd3's defaults guard each etcd host with a circuit breaker that opens after three consecutive
 * failures and lets one call through again only 5 s later, and each call is retried three times at
 * once: a call that ran into its deadline (CALL_TIMEOUT_MS) fails its retries at once too, so one
 * call to a paused or unreachable etcd opened the breaker. Every call for the next 5 s then failed
 * with "circuit breaker is open" without being sent, however soon etcd answered again: the lease was
 * granted, the leader key re-taken and writes served 6 s after the outage began at the earliest, and
 * 5 s later again when the one call let through failed too (with 1 s leases, writes came back 4.6 s
 * after etcd resumed 1.7 s into a pause; test/e2e/etcd-recover-writes.test.ts). The coordinator
 * paces its own retries (a keepalive and a reconcile every TTL/4), so the breaker here lets a call
 * through again after one such tick: a process takes a new lease within a tick or two of etcd
 * answering again. The breaker still spares
 * a dead host of several: the pool moves on to the next host while one's breaker is open.
 *
 * The watch reconnects with a backoff that doubles on each failure; it is capped at the TTL, so the
 * watch is back within a TTL of etcd answering (the ticks reconcile meanwhile).
 *
 * Safety does not depend on any of this: a leader stops writing at its lease deadline
 * (lease-deadline.ts), whatever the client does or how soon it reaches etcd again.
 */
import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen } from 'cockatiel';
import { Etcd3, isRecoverableError } from 'etcd3';

/** BREAKER_FAILURES is how many consecutive failed calls to a host open its breaker (etcd3's default). */
const BREAKER_FAILURES = 3;
/** WATCH_FIRST_RETRY_MS is the watch's first reconnect delay (etcd3's default). */
const WATCH_FIRST_RETRY_MS = 128;

/** EtcdClientOptions are what etcdClient needs to know. */
export interface EtcdClientOptions {
  hosts: string[];
  /** dialTimeoutMs bounds a connection attempt. */
  dialTimeoutMs: number;
  /** retryMs is how long a host's open breaker refuses calls before it lets one through (the coordinator's tick). */
  retryMs: number;
  /** watchMaxRetryMs caps the watch's reconnect delay (the lease TTL). */
  watchMaxRetryMs: number;
}

/** etcdClient makes the coordinator's etcd client; see the design block above. */
export function etcdClient(o: EtcdClientOptions): Etcd3 {
  return new Etcd3({
    hosts: o.hosts,
    dialTimeout: o.dialTimeoutMs,
    faultHandling: {
      host: () =>
        circuitBreaker(handleWhen(isRecoverableError), {
          halfOpenAfter: o.retryMs,
          breaker: new ConsecutiveBreaker(BREAKER_FAILURES),
        }),
      // etcd3 takes a backoff, not its factory (it calls `next()` on it for the first delay).
      watchBackoff: new ExponentialBackoff({
        initialDelay: Math.min(WATCH_FIRST_RETRY_MS, o.watchMaxRetryMs),
        maxDelay: o.watchMaxRetryMs,
      }).next(),
    },
  });
}
