/**
 * The deadline of a request body still arriving (http1-input.ts keeps one per connection), in the
 * spirit of the head's (http1-head-reader.ts): the idle limit only catches a body from which
 * nothing arrives, and a client dripping one byte a second never lets it fire, holding a
 * connection (and, with a large Content-Length, a route waiting for its body) for good.
 *
 * A body has `ms` (default BODY_TIMEOUT_MS) plus one second per MIN_BODY_RATE bytes received, as
 * Apache's mod_reqtimeout (`body=…,MinRate=…`) gives: a body arriving at MIN_BODY_RATE or faster
 * never reaches its deadline, however large; one arriving slower reaches it once its allowance is
 * spent (a byte a second: just after `ms`). The clock runs only while a body is incomplete: the
 * input arms it when it finds a body not whole and clears it once the body is whole or dropped,
 * so a body that arrives with its head costs no timer. Each read only adds to a count; the timer,
 * when it fires early, sets itself for the deadline the bytes received since moved it to. At the
 * deadline it calls `onTimeout`, and the connection decides (408, or `restart` while the wait is
 * not the client's: reading paused, `100 Continue` not sent yet).
 */

/** BODY_TIMEOUT_MS is the default time a request body has on top of its MIN_BODY_RATE allowance. */
export const BODY_TIMEOUT_MS = 10000;

/** MIN_BODY_RATE is the slowest rate, in bytes a second, at which a body never reaches its deadline. */
export const MIN_BODY_RATE = 1024;

/** BodyDeadline is the deadline of one connection's body being read (see the design block). */
export class BodyDeadline {
  /** ms is the time a body has on top of one second per MIN_BODY_RATE bytes. */
  readonly ms: number;
  private readonly onTimeout: () => void;
  private timer: NodeJS.Timeout | undefined;
  // when the allowance started (performance.now()), and the body bytes received since
  private since = 0;
  private bytes = 0;
  private readonly fire = (): void => {
    this.timer = undefined;
    const left = this.dueAt() - performance.now();
    if (left > 0) this.timer = setTimeout(this.fire, Math.ceil(left));
    else this.onTimeout();
  };

  constructor(ms: number, onTimeout: () => void) {
    this.ms = ms;
    this.onTimeout = onTimeout;
  }

  /** armed reports whether the deadline runs. */
  get armed(): boolean {
    return this.timer !== undefined;
  }

  /** received counts `n` body bytes toward the allowance (a field add: no timer moves). */
  received(n: number): void {
    this.bytes += n;
  }

  /**
   * arm starts the deadline unless it runs already, its allowance counted from now with the
   * bytes received since the last `clear` (the body's first, read with its head).
   */
  arm(): void {
    if (this.timer !== undefined) return;
    this.since = performance.now();
    this.timer = setTimeout(this.fire, this.ms);
  }

  /** restart starts the deadline afresh from now (after a wait that was not the client's). */
  restart(): void {
    this.clear();
    this.arm();
  }

  /** clear stops the deadline and forgets the bytes counted (the body is whole or dropped). */
  clear(): void {
    this.bytes = 0;
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** describe says what the body managed, for the 408's message. */
  describe(): string {
    const ms = Math.round(performance.now() - this.since);
    return (
      `${this.bytes} bytes in ${ms} ms: a body has ${this.ms} ms plus 1 s per ` +
      `${MIN_BODY_RATE} bytes received (send it at ${MIN_BODY_RATE} bytes/s or faster)`
    );
  }

  private dueAt(): number {
    return this.since + this.ms + (this.bytes * 1000) / MIN_BODY_RATE;
  }
}
