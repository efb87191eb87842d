/**
 * How DistkvClient.batch() speaks `POST /kv/_batch`: operations in JSON (values always as
 * `value_base64`, so any bytes survive), requests of bounded size, and one result per operation.
 */
import { DistkvError, OutcomeUnknownError } from '../errors.js';
import type { BatchOp, BatchResult } from './types.js';
import { ifMatchValue, wireError } from './wire-decode.js';

/** A batch request carries at most this many operations and about this many value bytes (the server takes 10000 and 16 MiB). */
const BATCH_CHUNK_OPS = 1000;
const BATCH_CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * WireResult is one operation's result as the server sends it; a failed condition's carries the
 * key's current version (null when it does not exist).
 */
export type WireResult =
  { ok: true } | { ok: false; version?: string | null; error: { code: unknown; message: string } };

/**
 * wireOp renders one operation for the request body (with its condition and expiry, when it has
 * them). Its `ifMatch` is read as put() reads it (wire-decode.ts ifMatchValue).
 */
export function wireOp(op: BatchOp): Record<string, string | number> {
  const cond = {
    ...(op.ifMatch === undefined ? {} : { if_match: ifMatchValue(op.ifMatch) }),
    ...('ifNoneMatch' in op && op.ifNoneMatch ? { if_none_match: '*' } : {}),
  };
  return op.op === 'delete'
    ? { op: 'delete', key: op.key, ...cond }
    : {
        op: 'set',
        key: op.key,
        value_base64: Buffer.from(op.value).toString('base64'),
        ...cond,
        ...(op.ttlMs === undefined ? {} : { ttl_ms: op.ttlMs }),
        ...(op.expiresAtMs === undefined ? {} : { expires_at_ms: op.expiresAtMs }),
      };
}

/** conditional tells whether a batch is all-or-nothing (some operation carries a condition). */
export function conditional(ops: readonly BatchOp[]): boolean {
  return ops.some((op) => op.ifMatch !== undefined || ('ifNoneMatch' in op && op.ifNoneMatch));
}

/** chunks splits one owner's operation indexes into requests of bounded size. */
export function* chunks(indexes: readonly number[], ops: readonly BatchOp[]): Generator<number[]> {
  // An all-or-nothing batch travels whole (the server refuses it over 10000 operations).
  if (conditional(ops)) {
    yield [...indexes];
    return;
  }
  let chunk: number[] = [];
  let bytes = 0;
  for (const i of indexes) {
    const op = ops[i]!;
    const size = op.key.length + (op.op === 'set' ? op.value.length : 0);
    if (chunk.length > 0 && (chunk.length >= BATCH_CHUNK_OPS || bytes + size > BATCH_CHUNK_BYTES)) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(i);
    bytes += size;
  }
  if (chunk.length > 0) yield chunk;
}

/**
 * batchResult turns one wire result into a BatchResult. An operation a node forwarded to an owner
 * that did not answer (OUTCOME_UNKNOWN: it may have been applied) is an OutcomeUnknownError, as
 * a batch with conditions so forwarded, or one whose own connection was lost, rejects with. A
 * failed condition is a PreconditionFailedError with the version the node sent, as put() rejects
 * with for the same refusal (it was a plain DistkvError without it).
 */
export function batchResult(res: WireResult | undefined, owner: string, i: number): BatchResult {
  if (res === undefined)
    return { ok: false, error: new DistkvError('INTERNAL', `${owner} sent no result for operation ${i}`) };
  if (res.ok)
    return (res as { deleted?: unknown }).deleted === true ? { ok: true, deleted: true } : { ok: true };
  // A node that answers garbage: its result says nothing more than that.
  const e = (res as { error?: { code?: unknown; message?: unknown } }).error;
  const message =
    typeof e?.message === 'string' ? e.message : `${owner} sent a malformed result for operation ${i}`;
  if (e?.code === 'OUTCOME_UNKNOWN') return { ok: false, error: new OutcomeUnknownError(message) };
  const version = (res as { version?: unknown }).version;
  const error = e === undefined ? undefined : wireError({ code: e.code, message }, version);
  return { ok: false, error: error ?? new DistkvError('INTERNAL', message) };
}
