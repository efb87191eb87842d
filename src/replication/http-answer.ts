/**
 * What a replica reads of its leader's HTTP answers (http-source.ts; the routes: docs/api.md): the
 * code of a JSON error body (a refused request fails with a LeaderAnswerError carrying its status
 * and code), a 409 DIVERGED's fork seq, the epoch headers (`X-Distkv-Epoch`,
 * `X-Distkv-Records-Epoch`; src/replication/epochs.ts) and the history id (`X-Distkv-History`). A
 * fork or an epoch that is none is an error naming the request and the header (the follower retries
 * after its backoff), never a NaN: a NaN fork left the replica's records above it unsaved before
 * its resync wiped them, and a NaN epoch went into its log as its records' epoch.
 */
import type { Dispatcher } from 'undici';
import { MAX_EPOCH } from '../routing/epoch-numbers.js';
import { isHistoryId } from '../storage/history-format.js';

/**
 * LeaderAnswerError is thrown by http-source.ts for a pull or snapshot its leader answered with an
 * error the replica does not act on itself (a 401, 403 UNKNOWN_REPLICA, 409 CONFIG_MISMATCH, a 503
 * ...): `status` is the answer's HTTP status and `code` its JSON error body's code (undefined when
 * the body was none). The follower's log reads them (follower-state-log.ts); the message, which
 * operators read, names the request, the status and the start of the body.
 */
export class LeaderAnswerError extends Error {
  readonly status: number;
  readonly code: string | undefined;

  constructor(message: string, status: number, code: string | undefined) {
    super(message);
    this.name = 'LeaderAnswerError';
    this.status = status;
    this.code = code;
  }
}

/** errorOf reads the code (and a DIVERGED answer's fork) of a JSON error body (undefined when it is not one). */
export function errorOf(body: Buffer): { code: string; fork?: unknown } | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { error?: { code?: unknown; fork?: unknown } };
    return typeof parsed.error?.code === 'string'
      ? { code: parsed.error.code, fork: parsed.error.fork }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * forkOf reads a DIVERGED answer's fork seq: its header, else its body's. A fork that is neither
 * is an error (the pull is retried): read as NaN, the replica saved none of its records above it
 * to its divergence file, then wiped them with its resync.
 */
export function forkOf(header: unknown, body: unknown, describe: string): number {
  for (const v of [header, body]) {
    const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
    if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0) return n;
  }
  throw new Error(`pull from ${describe}: 409 DIVERGED without a fork seq`);
}

/**
 * pullEpochsOf reads a pull answer's `X-Distkv-Epoch` and `X-Distkv-Records-Epoch` (absent: 0, a
 * leader before epochs). One that is not an epoch, or records of an epoch above the leader's, is
 * an error (the pull is retried): read as NaN, the epoch passed the check against the shard's and
 * went into the replica's log as its records' epoch.
 */
export function pullEpochsOf(
  h: Dispatcher.ResponseData['headers'],
  what: string,
): { epoch: number; recordsEpoch: number } {
  const read = (name: string): number => {
    const v = h[name];
    if (v === undefined) return 0;
    const n = epochHeader(v);
    if (n === undefined)
      throw new Error(`${what}: ${name} ${JSON.stringify(v)} is not an epoch (an integer 0..${MAX_EPOCH})`);
    return n;
  };
  const epoch = read('x-distkv-epoch');
  const recordsEpoch = read('x-distkv-records-epoch');
  if (recordsEpoch > epoch)
    throw new Error(
      `${what}: records of epoch ${recordsEpoch} from a leader in epoch ${epoch} (x-distkv-records-epoch above x-distkv-epoch)`,
    );
  return { epoch, recordsEpoch };
}

/**
 * epochHeader reads an `X-Distkv-Epoch` (a snapshot's: the epoch of its seq; a 409 DIVERGED's: the
 * leader's epoch); undefined when absent or not an epoch.
 */
export function epochHeader(v: unknown): number | undefined {
  // Within MAX_EPOCH, the most every format holds: a log frame's epoch is a u32, and a batch
  // labelled 2^32 threw in the worker's commit log writer, which the worker's other stores share.
  return typeof v === 'string' && /^\d+$/.test(v) && Number(v) <= MAX_EPOCH ? Number(v) : undefined;
}

/**
 * historyOf reads an answer's `X-Distkv-History` (the leader's history id: history-check.ts) as
 * an object to spread: empty when absent or not an id (the replica then takes none from it).
 */
export function historyOf(h: Dispatcher.ResponseData['headers']): { history?: string } {
  const v = h['x-distkv-history'];
  return isHistoryId(v) ? { history: v } : {};
}

/** closingOf reads a pull answer's `Connection: close` (a stopping leader's: Pulled.closing). */
export function closingOf(h: Dispatcher.ResponseData['headers']): { closing?: true } {
  const v = h.connection;
  return typeof v === 'string' && v.toLowerCase() === 'close' ? { closing: true } : {};
}
