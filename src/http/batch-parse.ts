/**
 * Parsing the body of `POST /kv/_batch` (docs/api.md): a JSON array of operations, or
 * `{"ops": [...]}`. A body that is not such a list is refused whole (400 INVALID_BODY); an
 * operation that is invalid on its own (bad key, bad value, unknown op) becomes an `invalid` entry,
 * answered in its place with its error while the others are applied.
 *
 * An operation may carry conditions, `if_match` ("E.S" or "*") or `if_none_match` ("*"), and a
 * set may carry `ttl_ms` or `expires_at_ms` (docs/api.md, "Batches with conditions" and "TTL");
 * they are checked here for form,
 * and a batch with conditions is all-or-nothing (collection-routes.ts).
 *
 * Every client mistake is a 4xx here, never a silent change of the data: `value_base64` must be
 * canonical base64 (Node's decoder skips bad characters), a key or value string with a lone
 * UTF-16 surrogate (possible in JSON, not in UTF-8) is refused instead of becoming U+FFFD, and so is
 * a body that is not UTF-8 (raw bytes in a string would each become U+FFFD).
 */
import { isUtf8 } from 'node:buffer';
import { DistkvError, toDistkvError, type WireError } from '../errors.js';
import { parseVersion } from '../routing/version.js';
import { checkKey, isWellFormed } from './request-parse.js';
import type { HttpRequest } from './http1-exchange.js';
import { BOTH_EXPIRIES, checkExpiresAt, conditionSent, MAX_TTL_MS } from './write-conditions.js';

/** BATCH_MAX_OPS bounds the operations of one batch. */
export const BATCH_MAX_OPS = 10000;

/**
 * refuseBatchConditionHeader throws INVALID_ARGUMENT when a batch request carries If-Match or
 * If-None-Match: a batch's conditions go per operation, and the header, ignored, let a batch its
 * client meant as conditional overwrite whatever its keys held. Nothing is written.
 */
export function refuseBatchConditionHeader(req: HttpRequest): void {
  const header = conditionSent(req);
  if (header === undefined) return;
  const field = header === 'If-Match' ? '"if_match": "E.S"' : '"if_none_match": "*"';
  throw new DistkvError(
    'INVALID_ARGUMENT',
    `${header} applies to no operation of a batch, and nothing was written: give each operation its condition, as ${field}`,
  );
}

/** BatchCondition is an operation's condition: `ifMatch` a version "E.S" or "*", or `ifNoneMatch`. */
export type BatchCondition = { ifMatch: string } | { ifNoneMatch: true };

/**
 * BatchOp is one validated operation of a batch, or the error that makes it invalid. A set
 * expires after `ttlMs` or at `expiresAtMs` (Unix ms), never both (expiryAtOf).
 */
export type BatchOp =
  | { op: 'set'; key: string; value: Buffer; cond?: BatchCondition; ttlMs?: number; expiresAtMs?: number }
  | { op: 'delete'; key: string; cond?: BatchCondition }
  | { op: 'invalid'; error: WireError; conditional?: true };

/**
 * Canonical base64 is padded, and the bits the padding leaves unused are zero (the last character
 * before `==` is one of A Q g w, before `=` one of A E I ... 8), as an encoder writes it. Without
 * that, `d/9=` was taken for `d/8=`: two texts for one key or prefix. It is checked by encoding the
 * decoded bytes again (Node's decoder skips what is not base64, so anything else comes back
 * different): linear in the text, where a regular expression ran out of stack on a value of 4 MiB
 * (answered 500 INTERNAL "Maximum call stack size exceeded").
 */
function canonicalBytes(text: string): Buffer | undefined {
  if (text.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/** isCanonicalBase64 says whether `text` is base64 as an encoder writes it: padded, unused bits zero, nothing else. */
export function isCanonicalBase64(text: string): boolean {
  return canonicalBytes(text) !== undefined;
}

/** decodeBase64 decodes canonical base64 (padding required), or throws naming the field. */
export function decodeBase64(text: string, field: string): Buffer {
  const bytes = canonicalBytes(text);
  if (bytes === undefined) throw new DistkvError('INVALID_BODY', `${field} is not valid base64`);
  return bytes;
}

/** parseBatch parses a batch body; it throws INVALID_BODY when the body is not a list of operations. */
export function parseBatch(body: Uint8Array, maxKey: number, maxValue: number): BatchOp[] {
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  // toString('utf8') would turn bytes that are not UTF-8 into U+FFFD, in keys and values alike.
  if (!isUtf8(bytes))
    throw new DistkvError(
      'INVALID_BODY',
      'body is not UTF-8, as JSON must be: send a value that is not UTF-8 as value_base64 (a key in a batch is text)',
    );
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new DistkvError('INVALID_BODY', `body is not valid JSON: ${(err as Error).message}`);
  }
  const list = Array.isArray(doc) ? doc : (doc as { ops?: unknown } | null)?.ops;
  if (!Array.isArray(list))
    throw new DistkvError('INVALID_BODY', 'expected a JSON array of operations (or {"ops": [...]})');
  if (list.length > BATCH_MAX_OPS)
    throw new DistkvError('INVALID_BODY', `batch has ${list.length} operations; limit is ${BATCH_MAX_OPS}`);
  return list.map((raw: unknown, i): BatchOp => {
    try {
      return parseOp(raw, i, maxKey, maxValue);
    } catch (err) {
      // An operation that asked for a condition, even one malformed, makes the batch one with
      // conditions: refused whole, not applied without it (conditional-batch.ts).
      const asked = raw !== null && typeof raw === 'object' && ('if_match' in raw || 'if_none_match' in raw);
      return { op: 'invalid', error: toDistkvError(err).toWire(), ...(asked ? { conditional: true } : {}) };
    }
  });
}

/**
 * SET_FIELDS and DELETE_FIELDS are the fields each kind of operation takes: any other is refused,
 * as the query parameters are (docs/api.md), since a misspelt one (`"ifMatch"`, `"ttl"`) would
 * otherwise make a conditional or expiring write an unconditional, lasting one.
 */
const SET_FIELDS = [
  'op',
  'key',
  'value',
  'value_base64',
  'ttl_ms',
  'expires_at_ms',
  'if_match',
  'if_none_match',
];
const DELETE_FIELDS = ['op', 'key', 'if_match', 'if_none_match'];

/** checkFields throws naming the first field of `o` that an operation of this kind does not take. */
function checkFields(o: object, i: number, isDelete: boolean): void {
  const known = isDelete ? DELETE_FIELDS : SET_FIELDS;
  for (const field of Object.keys(o))
    if (!known.includes(field))
      throw new DistkvError(
        'INVALID_ARGUMENT',
        `ops[${i}].${field}: unknown field${isDelete ? ' for a delete' : ''} (expected ${known.join(', ')})`,
      );
  if ('value' in o && 'value_base64' in o)
    throw new DistkvError('INVALID_ARGUMENT', `ops[${i}]: give value or value_base64, not both`);
}

/** parseOp validates one operation (index `i` names it in errors). */
export function parseOp(raw: unknown, i: number, maxKey: number, maxValue: number): BatchOp {
  if (typeof raw !== 'object' || raw === null)
    throw new DistkvError('INVALID_BODY', `ops[${i}]: expected an object`);
  const o = raw as {
    op?: unknown;
    key?: unknown;
    value?: unknown;
    value_base64?: unknown;
    if_match?: unknown;
    if_none_match?: unknown;
    ttl_ms?: unknown;
    expires_at_ms?: unknown;
  };
  if (typeof o.key !== 'string') throw new DistkvError('MISSING_KEY', `ops[${i}].key: expected a string`);
  try {
    checkKey(o.key, maxKey);
  } catch (err) {
    throw new DistkvError(toDistkvError(err).code, `ops[${i}].key: ${(err as Error).message}`);
  }
  const cond = conditionOf(o.if_match, o.if_none_match, i);
  const withCond = cond === undefined ? {} : { cond };
  if (o.op === 'delete' || o.op === 'del') {
    if (o.if_none_match !== undefined)
      throw new DistkvError(
        'INVALID_ARGUMENT',
        `ops[${i}].if_none_match on a delete would delete the key only if it does not exist, which deletes nothing: use if_match`,
      );
    if (o.ttl_ms !== undefined)
      throw new DistkvError('INVALID_ARGUMENT', `ops[${i}].ttl_ms: only a set takes a TTL`);
    if (o.expires_at_ms !== undefined)
      throw new DistkvError('INVALID_ARGUMENT', `ops[${i}].expires_at_ms: only a set takes an expiry`);
    checkFields(o, i, true);
    return { op: 'delete', key: o.key, ...withCond };
  }
  if (o.op !== 'set' && o.op !== 'put')
    throw new DistkvError(
      'INVALID_BODY',
      `ops[${i}].op: expected "set" or "delete", got ${JSON.stringify(o.op)}`,
    );
  checkFields(o, i, false);
  let value: Buffer;
  if (typeof o.value === 'string') {
    if (!isWellFormed(o.value))
      throw new DistkvError(
        'INVALID_BODY',
        `ops[${i}].value has a lone UTF-16 surrogate; use value_base64 for bytes`,
      );
    value = Buffer.from(o.value, 'utf8');
  } else if (typeof o.value_base64 === 'string')
    value = decodeBase64(o.value_base64, `ops[${i}].value_base64`);
  else throw new DistkvError('INVALID_BODY', `ops[${i}]: expected "value" (string) or "value_base64"`);
  if (value.length > maxValue)
    throw new DistkvError(
      'VALUE_TOO_LARGE',
      `ops[${i}]: value is ${value.length} bytes; limit is ${maxValue}`,
    );
  if (o.ttl_ms !== undefined && o.expires_at_ms !== undefined)
    throw new DistkvError('INVALID_ARGUMENT', `ops[${i}]: ${BOTH_EXPIRIES}`);
  if (o.expires_at_ms !== undefined) {
    const at = typeof o.expires_at_ms === 'number' ? o.expires_at_ms : NaN;
    checkExpiresAt(at, `ops[${i}].expires_at_ms`, shown(o.expires_at_ms));
    return { op: 'set', key: o.key, value, ...withCond, expiresAtMs: at };
  }
  if (o.ttl_ms === undefined) return { op: 'set', key: o.key, value, ...withCond };
  if (typeof o.ttl_ms !== 'number' || !Number.isInteger(o.ttl_ms) || o.ttl_ms < 1 || o.ttl_ms > MAX_TTL_MS)
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `ops[${i}].ttl_ms must be an integer in 1..${MAX_TTL_MS} (milliseconds), got ${shown(o.ttl_ms)}`,
    );
  return { op: 'set', key: o.key, value, ...withCond, ttlMs: o.ttl_ms };
}

/**
 * shown writes a field's JSON value in a message: a number as JavaScript read it (JSON.stringify
 * writes `1e400`, read as Infinity, as `null`, and the message said the field was null).
 */
function shown(value: unknown): string {
  return typeof value === 'number' ? String(value) : JSON.stringify(value);
}

/** expiryAtOf is the expiry of a batch operation as an absolute time (Unix ms, 0 = none), taken now for a `ttl_ms`. */
export function expiryAtOf(op: BatchOp): number {
  if (op.op !== 'set') return 0;
  if (op.ttlMs !== undefined) return Date.now() + op.ttlMs;
  return op.expiresAtMs ?? 0;
}

/** conditionOf validates an operation's `if_match` / `if_none_match` (at most one). */
function conditionOf(ifMatch: unknown, ifNoneMatch: unknown, i: number): BatchCondition | undefined {
  if (ifMatch !== undefined && ifNoneMatch !== undefined)
    throw new DistkvError('INVALID_ARGUMENT', `ops[${i}]: give if_match or if_none_match, not both`);
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch !== '*')
      throw new DistkvError(
        'INVALID_ARGUMENT',
        `ops[${i}].if_none_match must be "*", got ${JSON.stringify(ifNoneMatch)}`,
      );
    return { ifNoneMatch: true };
  }
  if (ifMatch === undefined) return undefined;
  if (ifMatch !== '*' && (typeof ifMatch !== 'string' || parseVersion(ifMatch) === undefined))
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `ops[${i}].if_match must be a version "E.S" or "*", got ${JSON.stringify(ifMatch)}`,
    );
  return { ifMatch };
}
