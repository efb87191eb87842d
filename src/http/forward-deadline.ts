/**
 * Forward deadlines: a write one node forwards to another (a `--proxy` relay, a batch part)
 * carries `X-Distkv-Deadline: <ms since the epoch>` (DEADLINE_HEADER), set a margin before its
 * sender gives up waiting for the answer's head, a wait that starts with the request
 * (forward-silence.ts; an owner answers a write once it applied it, so the bound on the silences
 * of the answer's body does not matter here). The owner does not start a write whose deadline has
 * passed when it handles the request's head: it answers 503 FORWARD_EXPIRED, not applied
 * (http1-server.ts).
 *
 * Why: a forwarded write that timed out ("may have been applied") could be applied by its owner
 * long after, once a stopped owner resumed and read it from its socket, and so after a later
 * write of the same key sent on another connection: an update lost from the client's view. With
 * the deadline, a write the owner starts at all starts before its sender gave up, so before the
 * client heard "may have been applied" and before anything it sent after that.
 *
 * What remains (docs/api.md): the clocks of the two hosts must agree within the margin (an owner
 * whose clock is behind by more may still start a write late; one ahead refuses some in time,
 * safely: it says they were not applied); the deadline is checked when the head is handled, so a
 * body still arriving after it, or a worker queue that holds the write past it, is not covered;
 * and a write started before its deadline may end after the sender gave up, so a timeout still
 * says "may have been applied".
 */
import { DistkvError } from '../errors.js';
import type { RequestHead } from './http1-head.js';

/** DEADLINE_HEADER carries a forwarded write's deadline, in ms since the epoch. */
export const DEADLINE_HEADER = 'x-distkv-deadline';

/** DEADLINE_MARGIN_MS is how long before its sender gives up a forwarded write's deadline falls (at most half the bound). */
export const DEADLINE_MARGIN_MS = 1000;

/** deadlineFor is the DEADLINE_HEADER value of a write sent `now` that its sender waits `boundMs` for. */
export function deadlineFor(boundMs: number, now = Date.now()): string {
  return String(Math.floor(now + boundMs - Math.min(DEADLINE_MARGIN_MS, boundMs / 2)));
}

/**
 * expiredForward is the refusal of a write whose head carries a deadline that has passed at
 * `at` (default: now; FORWARD_EXPIRED), or of one that is not a number of ms (INVALID_ARGUMENT); undefined
 * for a head without one or with one still ahead.
 */
export function expiredForward(head: RequestHead, at?: number): DistkvError | undefined {
  const i = head.names.indexOf(DEADLINE_HEADER);
  if (i < 0) return undefined;
  // The clock is read only for a forwarded write: every write's head passes here.
  const now = at ?? Date.now();
  const value = head.values[i]!;
  if (!/^\d{1,15}$/.test(value))
    return new DistkvError(
      'INVALID_ARGUMENT',
      `X-Distkv-Deadline must be a time in ms since the epoch, got "${value.slice(0, 40)}"`,
    );
  const late = now - Number(value);
  if (late <= 0) return undefined;
  return new DistkvError(
    'FORWARD_EXPIRED',
    `the forwarded write reached its owner ${late} ms after the deadline its sender set (X-Distkv-Deadline), when the sender had given up on it or was about to: it was not applied`,
  );
}
