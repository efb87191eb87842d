/**
 * Versions, conditions and TTL of single-key REST writes (docs/api.md, "Versions" and "TTL").
 *
 * A key's version is `E.S` (src/routing/version.ts): the worker reports the seq, and the epoch
 * comes from the shard's epoch history in the live map. `If-Match: "E.S"` writes only if the key
 * has that version (`If-Match: *`: only if it exists); `If-None-Match: *` only if it is missing.
 * An If-Match whose epoch is not the one the history gives its seq can never match: it is sent to
 * the worker as an impossible seq, so the 412 still carries the current version. `?ttl_ms=N`
 * (1..MAX_TTL_MS) makes a put expire N ms from now, and `?expires_at_ms=T` (Unix ms, 1..now +
 * MAX_TTL_MS) at T; they are exclusive. Either way the expiry travels as an absolute time, and a
 * time already past deletes the key, as Redis's SET ... PXAT does (worker/conditional-writes.ts).
 */
import { DistkvError } from '../errors.js';
import { epochOfSeq, formatVersion, parseVersion } from '../routing/version.js';
import { uintOf } from './request-parse.js';
import { COND_IF_EXISTS, COND_IF_MATCH, COND_IF_NONE_MATCH, type WriteExt } from '../worker/op-format.js';
import type { BatchCondition } from './batch-parse.js';
import type { HttpContext } from './context.js';
import type { HttpRequest } from './http1-exchange.js';

/** DEFAULT_W_TIMEOUT_MS is how long a `w=N` write waits for acks when no timeout_ms is given. */
export const DEFAULT_W_TIMEOUT_MS = 5000;
/** MAX_W_TIMEOUT_MS bounds `timeout_ms`. */
export const MAX_W_TIMEOUT_MS = 600000;
/** MAX_TTL_MS bounds `ttl_ms`: ten years. */
export const MAX_TTL_MS = 10 * 365 * 86400 * 1000;
/**
 * DELETE_IF_NONE_MATCH refuses `If-None-Match: *` on a delete: "delete only if the key does not
 * exist" deletes nothing whatever the key holds, so a client sending it meant something else
 * (If-Match). HTTP allows the header on any method; etcd's equivalent (a txn comparing
 * create_revision with 0, then deleting) is a no-op too. Refusing says so at once.
 */
const DELETE_IF_NONE_MATCH =
  'If-None-Match: * on a DELETE would delete the key only if it does not exist, which deletes nothing: ' +
  'to delete conditionally, send If-Match with its version (or * for "if it exists")';

/** IMPOSSIBLE_SEQ is an If-Match seq no key can have. */
const IMPOSSIBLE_SEQ = -1;

/** versionOf formats the version of `seq` in `shard` as an ETag value (quoted `E.S`), or undefined for 0 (missing). */
export function versionOf(ctx: HttpContext, shard: number, seq: number): string | undefined {
  if (seq <= 0) return undefined;
  return `"${formatVersion({ epoch: epochOfSeq(historyOf(ctx, shard), seq), seq })}"`;
}

function historyOf(ctx: HttpContext, shard: number): readonly { epoch: number; firstSeq: number }[] {
  return ctx.liveMap.current.shards.find((s) => s.idx === shard)?.history ?? [];
}

/**
 * writeExtOf reads a write's conditions (If-Match, If-None-Match) and, for a put, `ttl_ms`; it
 * returns undefined when there are none (a plain write), and throws INVALID_ARGUMENT for bad ones.
 */
export function writeExtOf(
  req: HttpRequest,
  ctx: HttpContext,
  shard: number,
  params: ReadonlyMap<string, string>,
  put: boolean,
): WriteExt | undefined {
  const ifMatch = conditionHeader(req, 'if-match', 'If-Match');
  const ifNoneMatch = conditionHeader(req, 'if-none-match', 'If-None-Match');
  const expiresAtMs = put ? expiryParamOf(params) : 0;
  if (ifMatch === undefined && ifNoneMatch === undefined && expiresAtMs === 0) return undefined;
  if (ifMatch !== undefined && ifNoneMatch !== undefined)
    throw new DistkvError('INVALID_ARGUMENT', 'send If-Match or If-None-Match, not both');
  if (ifNoneMatch !== undefined && !put) throw new DistkvError('INVALID_ARGUMENT', DELETE_IF_NONE_MATCH);
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*')
    throw new DistkvError('INVALID_ARGUMENT', `If-None-Match must be *, got ${JSON.stringify(ifNoneMatch)}`);
  if (ifMatch !== undefined && ifMatch.trim() !== '*' && parseVersion(ifMatch) === undefined)
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `If-Match must be a version "E.S" (as an ETag gives it) or *, got ${JSON.stringify(ifMatch)}`,
    );
  const cond =
    ifNoneMatch !== undefined
      ? { ifNoneMatch: true as const }
      : ifMatch !== undefined
        ? { ifMatch }
        : undefined;
  return extOf(ctx, shard, cond, expiresAtMs);
}

/**
 * conditionHeader returns the one value of a condition header (undefined when absent; "" when sent
 * empty, which the caller refuses). Sent twice it is refused: its fields would form a list, and
 * taking the first would let `If-Match: *` then `If-Match: "E.S"` write whatever the version.
 */
function conditionHeader(req: HttpRequest, lowerName: string, name: string): string | undefined {
  const values = req.getHeaders(lowerName);
  if (values.length > 1)
    throw new DistkvError('INVALID_ARGUMENT', `send one ${name} header, got ${values.length}`);
  return values[0];
}

/**
 * conditionSent returns the name of the condition header (If-Match, If-None-Match) `req` carries,
 * or undefined. A request that takes no such header (the seed's `/set`, a batch, whose conditions
 * go per operation) refuses one with it: applied unconditionally, a write its client sent as a
 * compare-and-set overwrote whatever the key held.
 */
export function conditionSent(req: HttpRequest): string | undefined {
  if (req.getHeaders('if-match').length > 0) return 'If-Match';
  if (req.getHeaders('if-none-match').length > 0) return 'If-None-Match';
  return undefined;
}

/** extOf builds the ext of a write from an already validated condition and an expiry (Unix ms, 0 = none). */
export function extOf(
  ctx: HttpContext,
  shard: number,
  cond: BatchCondition | undefined,
  expiresAtMs: number,
): WriteExt {
  let flags = 0;
  let ifSeq = 0;
  if (cond !== undefined && 'ifNoneMatch' in cond) flags = COND_IF_NONE_MATCH;
  else if (cond !== undefined && cond.ifMatch.trim() === '*') flags = COND_IF_EXISTS;
  else if (cond !== undefined) {
    const v = parseVersion(cond.ifMatch);
    flags = COND_IF_MATCH;
    const known = v !== undefined && v.seq > 0 && epochOfSeq(historyOf(ctx, shard), v.seq) === v.epoch;
    ifSeq = known ? v.seq : IMPOSSIBLE_SEQ;
  }
  return { flags, ifSeq, expiresAtMs };
}

/**
 * expiryParamOf reads a put's `ttl_ms` or `expires_at_ms` as an absolute expiry (Unix ms, 0 when
 * neither is given); both at once is INVALID_ARGUMENT naming them.
 */
export function expiryParamOf(params: ReadonlyMap<string, string>): number {
  const ttl = params.get('ttl_ms');
  const at = params.get('expires_at_ms');
  if (ttl !== undefined && at !== undefined) throw new DistkvError('INVALID_ARGUMENT', BOTH_EXPIRIES);
  if (ttl !== undefined) return Date.now() + ttlOf(ttl);
  return at === undefined ? 0 : expiresAtOf(at);
}

/** BOTH_EXPIRIES refuses a write that gives its expiry twice. */
export const BOTH_EXPIRIES =
  'give ttl_ms (milliseconds from now) or expires_at_ms (Unix time in milliseconds), not both';

/** ttlOf reads the text of `ttl_ms`: a decimal integer in 1..MAX_TTL_MS (0 when absent). */
export function ttlOf(text: string | undefined): number {
  if (text === undefined) return 0;
  const n = uintOf(text);
  if (!(n >= 1 && n <= MAX_TTL_MS))
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `ttl_ms must be an integer in 1..${MAX_TTL_MS} (milliseconds), got ${JSON.stringify(text)}`,
    );
  return n;
}

/**
 * expiresAtOf reads the text of `expires_at_ms`: a decimal integer in 1..now + MAX_TTL_MS (as
 * Redis refuses a PXAT of 0 or less). A time already past is valid: the put deletes the key.
 */
export function expiresAtOf(text: string): number {
  const n = uintOf(text);
  return checkExpiresAt(n, 'expires_at_ms', JSON.stringify(text));
}

/** checkExpiresAt returns `n` when it is a valid expires_at_ms, else throws naming `field` and the value `given`. */
export function checkExpiresAt(n: number, field: string, given: string): number {
  const latest = Date.now() + MAX_TTL_MS;
  if (!(Number.isInteger(n) && n >= 1 && n <= latest))
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `${field} must be an integer in 1..${latest} (Unix time in milliseconds, at most ten years ahead), got ${given}`,
    );
  return n;
}
