/**
 * What `distkv backup` and `distkv restore` say, and do, for each refusal they wait out
 * (leader-wait.ts, MOVING). Every one of them used to read "<CODE> at <node>; looking for its
 * leader", also 503 REPLICATION_BUSY: a leader serving as many snapshot streams of the store as it
 * takes at once (src/http/repl-admission.ts) is the shard's leader, and busy; no other leader was
 * to be found, and an operator went looking for a failover that never happened.
 *
 * So each refusal says what it means at that node, and what the command does about it:
 *   REPLICATION_BUSY   the leader is busy: the same node is asked again after its Retry-After
 *                      (`retryAfter`: delay-seconds or a date, within bounds), and every
 *                      BUSY_MAP_LOOK_MS the newest map is looked for: a leader cut off from its
 *                      peers still believes it leads; the map's leader is asked once it names another;
 *   STARTING, UNAVAILABLE
 *                      the leader's stores are opening, or its store is not open: waited for (the
 *                      map is reloaded, in case a failover names another leader meanwhile);
 *   DRAINING, SWITCHING_LEADER
 *                      the leader is stopping, or handing the shard over: its next leader is looked for;
 *   WRONG_NODE         the node no longer leads the shard: its leader is looked for;
 *   SHARD_UNREACHABLE  the node does not answer: its leader is looked for;
 *   OUTCOME_UNKNOWN    the write was sent (or a node forwarded it) to the leader, and no answer came: written again.
 * Any other refusal is not waited out (the command stops, naming it); with --wait-ms 0 none is
 * (`notWaitedLine`).
 */
import type { ErrorCode } from '../errors.js';
import { parseHttpDate } from '../util/http-date.js';

/** RefusalWait is what a waited refusal means at its node (`meaning`) and what the command does (`action`). */
export interface RefusalWait {
  meaning: string;
  action: string;
  /** sameNode: the node that refused is asked again as it is (it leads the shard), as long as the newest map names it. */
  sameNode: boolean;
}

/** DEFAULT_RETRY_AFTER_MS is the wait of a busy refusal that carries no readable Retry-After (nodes send 1 s). */
export const DEFAULT_RETRY_AFTER_MS = 1000;
/** MAX_RETRY_AFTER_MS bounds the wait a node's Retry-After asks for (a broken or hostile node's large one). */
export const MAX_RETRY_AFTER_MS = 30_000;
/** MIN_RETRY_AFTER_MS is the least wait between two asks (a `Retry-After: 0` would have them back to back). */
export const MIN_RETRY_AFTER_MS = 100;
/**
 * BUSY_MAP_LOOK_MS spaces the looks for a newer map while a busy leader is asked again: a leader
 * cut off from its peers still believes it leads, and a busy one was asked for the whole of
 * --wait-ms while the map named another (a new map reaches every node within a peer poll, 2 s).
 */
export const BUSY_MAP_LOOK_MS = 2000;

/**
 * RetryAfter is the wait a busy refusal's Retry-After asks for, as it is used: `ms` (within
 * MIN_RETRY_AFTER_MS..MAX_RETRY_AFTER_MS), `from` what it was read from (delay-seconds, an
 * HTTP-date, or nothing readable: DEFAULT_RETRY_AFTER_MS) and `asked` the wait the node asked for
 * before the bounds (ms; undefined when nothing was readable).
 */
export interface RetryAfter {
  ms: number;
  from: 'seconds' | 'date' | 'none';
  asked?: number;
}

/** NO_RETRY_AFTER is the wait of a refusal with no readable Retry-After. */
const NO_RETRY_AFTER: RetryAfter = { ms: DEFAULT_RETRY_AFTER_MS, from: 'none' };

/**
 * retryAfter reads a Retry-After header (RFC 9110 section 10.2.3): delay-seconds, or an HTTP-date
 * taken as its distance from `now` (Unix ms; a date already past asks for 0), within
 * MIN_RETRY_AFTER_MS..MAX_RETRY_AFTER_MS; absent or unreadable: DEFAULT_RETRY_AFTER_MS. A date was
 * read as unreadable, and the wait said "every 1 s (its Retry-After)" of a wait the node never asked.
 */
export function retryAfter(header: string | string[] | undefined, now = Date.now()): RetryAfter {
  const text = (Array.isArray(header) ? header[0] : header)?.trim();
  if (text === undefined) return NO_RETRY_AFTER;
  let from: RetryAfter['from'];
  let asked: number;
  if (/^\d{1,9}$/.test(text)) {
    from = 'seconds';
    asked = Number(text) * 1000;
  } else {
    const at = parseHttpDate(text, now);
    if (at === undefined) return NO_RETRY_AFTER;
    from = 'date';
    asked = Math.max(0, at - now);
  }
  return { ms: Math.max(MIN_RETRY_AFTER_MS, Math.min(MAX_RETRY_AFTER_MS, asked)), from, asked };
}

/** retryAfterMs is retryAfter's wait in ms. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number {
  return retryAfter(header, now).ms;
}

/** seconds writes `ms` as seconds for a line: `1 s`, `0.5 s`. */
function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}

/**
 * busyAction says how a busy leader is asked again after `r`: every N s after its delay-seconds,
 * in N s after its date (each refusal names its own), saying when the bounds changed the wait.
 */
function busyAction(r: RetryAfter): string {
  if (r.from === 'none') return `asking it again every ${seconds(r.ms)} (it sent no readable Retry-After)`;
  const bounded =
    r.asked === undefined || r.asked === r.ms
      ? ''
      : `, which asked ${seconds(r.asked)}: ${r.ms > r.asked ? 'the least' : 'the most'} it waits`;
  return r.from === 'seconds'
    ? `asking it again every ${seconds(r.ms)} (its Retry-After${bounded})`
    : `asking it again in ${seconds(r.ms)} (the date its Retry-After names${bounded})`;
}

/**
 * refusalWait says what refusal `code` means at the node that sent it and what the command does
 * (see the design block); `busy` is the wait of a REPLICATION_BUSY (its Retry-After).
 */
export function refusalWait(code: ErrorCode, busy: RetryAfter = NO_RETRY_AFTER): RefusalWait {
  const look = { sameNode: false, action: 'looking for its leader' };
  const next = { sameNode: false, action: 'looking for its next leader' };
  const wait = { sameNode: false, action: 'waiting for it' };
  switch (code) {
    case 'REPLICATION_BUSY':
      return {
        meaning:
          'its leader is busy (it serves as many snapshot streams or pull answers as it takes at once)',
        action: busyAction(busy),
        sameNode: true,
      };
    case 'STARTING':
      return { meaning: 'its leader is starting (its stores are opening)', ...wait };
    case 'UNAVAILABLE':
      return { meaning: 'its store there is not open', ...wait };
    case 'DRAINING':
      return { meaning: 'its leader is stopping', ...next };
    case 'SWITCHING_LEADER':
      return { meaning: 'its leader is handing the shard over, or lost its etcd lease', ...next };
    case 'WRONG_NODE':
      return { meaning: 'that node does not lead it', ...look };
    case 'SHARD_UNREACHABLE':
      return { meaning: 'its leader does not answer', ...look };
    case 'OUTCOME_UNKNOWN':
      return {
        meaning: 'a write sent or forwarded to its leader got no answer',
        sameNode: false,
        action: 'looking for its leader to write it again',
      };
    default:
      return { meaning: 'refused', ...look };
  }
}

/** waitLine is a waited refusal of `node` as a progress line says it: `REPLICATION_BUSY at 10.0.0.1:8080: its leader is busy (...); asking it again every 1 s (its Retry-After)`. */
export function waitLine(code: ErrorCode, node: string, busy?: RetryAfter): string {
  const w = refusalWait(code, busy);
  return `${code} at ${node}: ${w.meaning}; ${w.action}`;
}

/**
 * waitSubject is what a wait line is about, for telling a new wait from the same one going on
 * (progress-line.ts, newWait): the refusal, its node and how it is waited, but not the distance of
 * a Retry-After date, which each refusal names anew.
 */
export function waitSubject(code: ErrorCode, node: string, busy?: RetryAfter): string {
  return busy?.from === 'date'
    ? `${code} at ${node}: until its Retry-After date`
    : waitLine(code, node, busy);
}

/**
 * notWaitedLine is a refusal of `node` that the command does not wait out because --wait-ms is 0,
 * with the node's message `why`: what it means, where, and how to have it waited for. With no wait
 * asked for, a busy leader's refusal said it was "still busy after 0 s", and a leader down that
 * the shard "had no leader that answered for 0 s".
 */
export function notWaitedLine(code: ErrorCode, node: string, why: string): string {
  return `${code} at ${node}: ${refusalWait(code).meaning} (${why}); --wait-ms 0 waits for nothing: --wait-ms N waits up to N ms for it`;
}

/** movedLine says that the map no longer names a busy `from` the shard's leader but `to`, asked from now on. */
export function movedLine(from: string, to: string): string {
  return `REPLICATION_BUSY at ${from}: the map now names ${to} its leader; asking ${to} instead`;
}
