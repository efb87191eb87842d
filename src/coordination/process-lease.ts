/**
 * ProcessLease: the one etcd lease a distkv process keeps its leader keys and published seqs under
 * (docs/failover.md, "Automatic failover with etcd"), renewed by its own keepalives (not etcd3's:
 * its `lost` event fires only after 2x TTL), with the deadline the process must stop acting by
 * (lease-deadline.ts). Renewals do not wait for each other (each is bounded by CALL_TIMEOUT_MS): one
 * slow answer must not hold back the next keepalive and let the deadline pass on a loaded machine.
 *
 * A lease that etcd no longer has is replaced at once (`drop`, then a grant): when etcd lost its
 * data (wiped, or restored from an older snapshot), every member's lease, leader key and published
 * seq went together, and a member that waited a keepalive interval for its new lease republished
 * its seq late. `heldFor` tells how long the current lease has been held: a replica ranks itself
 * only under a lease held for a TTL (etcd-coordinator.ts), by when every live member that lost its
 * lease in the same event has a new one and has published its seq again.
 */
import { type Etcd3, EtcdLeaseInvalidError, type Lease } from 'etcd3';
import type { Logger } from 'pino';
import { CALL_TIMEOUT_MS, callOptions } from './etcd-keyspace.js';
import { etcdErrorText, heldBack } from './etcd-error-text.js';
import { LeaseDeadline } from './lease-deadline.js';

/** OWN_LEASES bounds how many of this process's lease IDs are remembered (`own`). */
const OWN_LEASES = 16;

/**
 * LeaseWarn hears of a failed keepalive or grant: `message` names the call and its cause
 * (etcd-error-text.ts); `heldBack`: the etcd client did not send it (no cause of its own).
 */
export type LeaseWarn = (message: string, heldBack: boolean) => void;

/** ProcessLease holds this process's lease; see the design block above. */
export class ProcessLease {
  /** id is the current lease's ID (undefined: none, a keepalive grants one). */
  id: string | undefined;
  private lease: Lease | undefined;
  /** granted are the IDs of the last leases this process was granted, newest last (OWN_LEASES at most). */
  private readonly granted: string[] = [];
  /** granting is the grant in flight: a second caller waits for it rather than sending another. */
  private granting: Promise<void> | undefined;
  /** grantedAt is when the current lease was granted (performance.now()). */
  private grantedAt = 0;
  private readonly deadline = new LeaseDeadline();
  private readonly etcd: Etcd3;
  private readonly ttlMs: number;
  private readonly log: Logger;
  private readonly onLost: () => void;
  private readonly warn: LeaseWarn;
  private readonly onGranted: () => void;
  private readonly onAnswered: () => void;
  /** closed: revoked; no lease is granted any more. */
  private closed = false;

  /**
   * `onLost` runs when etcd no longer has the lease, `onGranted` once a new one is granted,
   * `warn` for each failed keepalive or grant, `onAnswered` for each one that succeeded.
   */
  constructor(
    etcd: Etcd3,
    ttlMs: number,
    log: Logger,
    onLost: () => void,
    warn: LeaseWarn,
    onGranted: () => void = () => undefined,
    onAnswered: () => void = () => undefined,
  ) {
    this.etcd = etcd;
    this.ttlMs = ttlMs;
    this.log = log;
    this.onLost = onLost;
    this.warn = warn;
    this.onGranted = onGranted;
    this.onAnswered = onAnswered;
  }

  /**
   * own tells whether lease `id` was granted to this process: its current one, or an earlier one
   * that expired (etcd may show its keys a moment after it answered that the lease is gone).
   */
  own(id: string): boolean {
    return this.granted.includes(id);
  }

  /** heldFor tells whether the current lease was granted at least `ms` ago (false: none). */
  heldFor(ms: number, now = performance.now()): boolean {
    return this.id !== undefined && now - this.grantedAt >= ms;
  }

  /** valid tells whether this process is before its deadline (it may act as a lease holder). */
  valid(): boolean {
    return this.deadline.valid();
  }

  /** keepalive grants a lease when there is none, else renews it and moves the deadline. */
  async keepalive(): Promise<void> {
    const lease = this.lease;
    if (lease === undefined) {
      await this.grant();
      return;
    }
    const sentAt = performance.now();
    try {
      const r = await lease.keepaliveOnce(callOptions());
      if (this.lease !== lease) return;
      this.deadline.renewed(sentAt, Number(r.TTL) * 1000);
      this.onAnswered();
    } catch (err) {
      if (this.lease !== lease) return;
      if (err instanceof EtcdLeaseInvalidError) this.drop();
      else this.warn(`etcd keepalive: ${etcdErrorText(err)}`, heldBack(err));
    }
  }

  private grant(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.granting ??= this.grantOnce().finally(() => {
      this.granting = undefined;
    });
    return this.granting;
  }

  private async grantOnce(): Promise<void> {
    const sentAt = performance.now();
    this.deadline.lost();
    // Bounded: without a deadline a grant to an etcd that accepts the connection and never answers
    // waited for ever (etcd3 does not apply its dialTimeout), and every later grant waited for it.
    // A keepalive tick, not one call's deadline: a grant sent into an etcd stalled for a second or
    // two (an fsync on a loaded disk) is answered as it resumes, where a failed one costs a start
    // try and its pause of a tick (docs/failover.md).
    const boundMs = Math.max(CALL_TIMEOUT_MS, Math.floor(this.ttlMs / 4));
    const deadline = Date.now() + boundMs;
    const lease = this.etcd.lease(Math.ceil(this.ttlMs / 1000), { autoKeepAlive: false, deadline });
    lease.on('lost', () => undefined);
    try {
      this.id = await lease.grant();
      this.lease = lease;
      this.grantedAt = sentAt;
      this.granted.push(this.id);
      if (this.granted.length > OWN_LEASES) this.granted.shift();
      this.deadline.renewed(sentAt, this.ttlMs);
    } catch (err) {
      lease.release();
      // Past its deadline etcd3 retries the call with none left and reports the last try's gRPC
      // text ("Deadline exceeded after 0.000s, waiting for name resolution"): say what happened.
      const why = (err as Error).message;
      this.warn(
        `etcd lease grant: ${Date.now() >= deadline && /DEADLINE_EXCEEDED/.test(why) ? `no answer within ${boundMs} ms` : etcdErrorText(err)}`,
        heldBack(err),
      );
      return;
    }
    this.onAnswered();
    this.onGranted();
  }

  /** drop forgets a lease etcd no longer has (every key under it is gone) and tells the owner. */
  drop(): void {
    if (this.lease === undefined) return;
    this.log.warn(`lease ${String(this.id)} expired in etcd: this process holds no leader key now`);
    this.deadline.lost();
    this.lease.release();
    this.lease = undefined;
    this.id = undefined;
    this.onLost();
    // A new lease now, not a keepalive interval later: this process's seqs go out again with it.
    void this.grant();
  }

  /** revoke gives the lease back to etcd, so its keys go at once. */
  async revoke(): Promise<void> {
    this.closed = true;
    this.deadline.lost();
    await this.lease?.revoke(callOptions()).catch(() => undefined);
    this.lease = undefined;
    this.id = undefined;
  }
}
