/**
 * LeaseDeadline: the moment a lease holder must stop acting as one, computed on its own clock
 * (docs/failover.md, "Automatic failover with etcd").
 *
 * etcd renews a lease for its full TTL from the moment it receives a keepalive, which is after the
 * holder sent it; so the lease cannot expire before `send time + TTL`. The holder stops at
 * `send time of the last successful keepalive + TTL - margin`, the margin covering the drift between
 * its clock and etcd's over one TTL. Times are `performance.now()` (monotonic: it keeps counting
 * while the process is stopped, so a process resumed after SIGSTOP sees its deadline passed).
 */

/** driftMargin is the clock-drift margin for a TTL: a tenth of it, at least 100 ms. */
export function driftMargin(ttlMs: number): number {
  return Math.max(100, Math.floor(ttlMs / 10));
}

/** LeaseDeadline tracks the deadline of one lease from its keepalives. */
export class LeaseDeadline {
  private deadline = 0;

  /** renewed records a keepalive sent at `sentAt` that etcd answered with `ttlMs` left. */
  renewed(sentAt: number, ttlMs: number): void {
    if (ttlMs <= 0) return;
    this.deadline = Math.max(this.deadline, sentAt + ttlMs - driftMargin(ttlMs));
  }

  /** lost forgets the lease (etcd said it expired, or a new lease is being granted). */
  lost(): void {
    this.deadline = 0;
  }

  /** valid tells whether the holder may still act at `now`. */
  valid(now = performance.now()): boolean {
    return now < this.deadline;
  }

  /** msLeft is how long the holder may still act (negative: past its deadline). */
  msLeft(now = performance.now()): number {
    return this.deadline - now;
  }
}
