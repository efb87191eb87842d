/**
 * The string commands that edit a value in place: APPEND, SETRANGE, INCRBYFLOAT, GETEX, and
 * GETRANGE/SUBSTR, which reads a part of one. The writing ones are one OP_EDIT each
 * (src/worker/edits.ts): a read-modify-write on the store's worker against the newest value, writes
 * in flight included, so concurrent APPENDs or INCRBYFLOATs on a key lose no update, and the key
 * keeps its expiry (GETEX alone changes it), as in Redis. An APPEND or SETRANGE whose result is
 * over `max_value_bytes` (reported as CONFIG GET's `proto-max-bulk-len`) is refused as Redis refuses
 * one over proto-max-bulk-len (TOO_LONG); an INCRBYFLOAT over it (only with a limit under a few KiB)
 * gets the error SET gives. GETRANGE is a GET whose reply is cut on the main thread.
 */
import {
  EDIT_APPEND,
  EDIT_GETEX,
  EDIT_INCRBYFLOAT,
  EDIT_SETRANGE,
  encodeEdit,
  OP_EDIT,
  OP_GET,
  ST_DONE,
  ST_MISSING,
  ST_VALUE,
} from '../worker/op-format.js';
import { decodeOld, parseInt64 } from '../worker/read-modify-write.js';
import { MAX_TTL_MS } from '../http/write-conditions.js';
import { type LocalTarget, routeKey } from './key-route.js';
import type { RespConnection } from './resp-connection.js';
import type { RespWriter } from './resp-format.js';
import { errorText } from './worker-reply.js';

const NOT_INTEGER = 'ERR value is not an integer or out of range';
/** TOO_LONG is Redis's refusal of an APPEND or SETRANGE whose result is over proto-max-bulk-len. */
export const TOO_LONG = 'ERR string exceeds maximum allowed size (proto-max-bulk-len)';
/** MAX_EDIT_LIMIT is the largest limit an edit carries (a u32). */
const MAX_EDIT_LIMIT = 0xffffffff;

type ReplyOf = (w: RespWriter, result: Buffer) => void;

/**
 * formatEdit answers an OP_EDIT with `reply` of its result, noting a write for WAIT; with
 * `tooLong`, a result over the limit (VALUE_TOO_LARGE) is answered with Redis's TOO_LONG.
 */
function formatEdit(reply: ReplyOf, tooLong = false) {
  return (w: RespWriter, status: number, _seq: number, value: Buffer): void => {
    if (status !== ST_DONE) {
      w.error(tooLong && isTooLarge(value) ? TOO_LONG : errorText(value, true));
      return;
    }
    reply(w, value);
  };
}

/** isTooLarge tells whether an ST_ERROR reply body is the worker's VALUE_TOO_LARGE. */
function isTooLarge(value: Buffer): boolean {
  try {
    return (JSON.parse(value.toString('utf8')) as { code?: unknown }).code === 'VALUE_TOO_LARGE';
  } catch {
    return false;
  }
}

/** asLength answers APPEND and SETRANGE: the new length. */
const asLength = formatEdit((w, v) => {
  w.integer(Number(v.toString('latin1')));
}, true);
const asBulk = formatEdit((w, v) => {
  w.bulk(v);
});
const asOld = formatEdit((w, v) => {
  const old = decodeOld(v);
  if (old === undefined) w.nil();
  else w.bulk(old);
});

/** submitEdit submits an OP_EDIT of `kind` on `key` to `t`, the store serving it (routed for a write). */
function submitEdit(
  c: RespConnection,
  t: LocalTarget,
  key: Buffer,
  kind: number,
  arg: Uint8Array,
  format: ReturnType<typeof formatEdit>,
  atMs = 0,
): void {
  const limit = Math.min(c.ctx.config.server.max_value_bytes, MAX_EDIT_LIMIT);
  const value = encodeEdit({ kind, limit, atMs, arg });
  c.ctx.pool.submit(t.worker, OP_EDIT, t.store, key, value, c.queue.later(c.proto, format, t.store));
}

/** append: APPEND key value (the new length). */
export function append(c: RespConnection, args: Buffer[]): void {
  const t = routeKey(c, args[1]!, true);
  if (t !== undefined) submitEdit(c, t, args[1]!, EDIT_APPEND, args[2]!, asLength);
}

/**
 * setrange: SETRANGE key offset value (the new length; the gap before `offset` is zero bytes). No
 * bytes writes nothing; a result over `max_value_bytes` is refused before it reaches the worker.
 */
export function setrange(c: RespConnection, args: Buffer[]): void {
  // As Redis Cluster: a key another node owns is redirected before the arguments are read.
  const t = routeKey(c, args[1]!, true);
  if (t === undefined) return;
  const offset = parseInt64(args[2]!.toString('latin1'));
  const bytes = args[3]!;
  const limit = c.ctx.config.server.max_value_bytes;
  if (offset === undefined) c.queue.now(c.proto).error(NOT_INTEGER);
  else if (offset < 0n) c.queue.now(c.proto).error('ERR offset is out of range');
  else if (bytes.length > 0 && offset + BigInt(bytes.length) > BigInt(limit))
    c.queue.now(c.proto).error(TOO_LONG);
  else {
    const arg = Buffer.allocUnsafe(4 + bytes.length);
    arg.writeUInt32LE(bytes.length === 0 ? 0 : Number(offset), 0);
    bytes.copy(arg, 4);
    submitEdit(c, t, args[1]!, EDIT_SETRANGE, arg, asLength);
  }
}

/** incrbyfloat: INCRBYFLOAT key increment (the new value, as Redis prints it: src/worker/long-double.ts). */
export function incrbyfloat(c: RespConnection, args: Buffer[]): void {
  const t = routeKey(c, args[1]!, true);
  if (t !== undefined) submitEdit(c, t, args[1]!, EDIT_INCRBYFLOAT, args[2]!, asBulk);
}

/**
 * getrangeOf returns the bytes GETRANGE answers for `value` and the inclusive `start`..`end`, with
 * Redis 7.0's rules: negative indexes count from the end, then clamp to the value.
 */
export function getrangeOf(value: Buffer, start: bigint, end: bigint): Buffer {
  if (start < 0n && end < 0n && start > end) return Buffer.alloc(0);
  const len = BigInt(value.length);
  let s = start < 0n ? len + start : start;
  let e = end < 0n ? len + end : end;
  if (s < 0n) s = 0n;
  if (e < 0n) e = 0n;
  if (e >= len) e = len - 1n;
  if (s > e || len === 0n) return Buffer.alloc(0);
  return value.subarray(Number(s), Number(e) + 1);
}

/** getrange: GETRANGE key start end, and SUBSTR (its old name). A missing key answers an empty string. */
export function getrange(c: RespConnection, args: Buffer[]): void {
  const t = routeKey(c, args[1]!, false);
  if (t === undefined) return;
  const start = parseInt64(args[2]!.toString('latin1'));
  const end = parseInt64(args[3]!.toString('latin1'));
  if (start === undefined || end === undefined) {
    c.queue.now(c.proto).error(NOT_INTEGER);
    return;
  }
  const format = (w: RespWriter, status: number, _seq: number, value: Buffer): void => {
    if (status === ST_VALUE) w.bulk(getrangeOf(value, start, end));
    else if (status === ST_MISSING) w.bulk('');
    else w.error(errorText(value));
  };
  c.ctx.pool.submit(t.worker, OP_GET, t.store, args[1]!, undefined, c.queue.later(c.proto, format));
}

const GETEX_UNITS = new Set(['EX', 'PX', 'EXAT', 'PXAT']);

/**
 * getexExpiry parses GETEX's options as Redis 7 does: one of EX/PX/EXAT/PXAT (repeated, the last
 * wins) or PERSIST. Returns the new expiry (epoch ms; 0 = PERSIST), undefined for none (a plain
 * GET), or the error text (`ofTime`: an error of the time, which Redis answers only for a key that
 * exists). A time of 0 or less is invalid; more than ten years ahead is refused.
 */
function getexExpiry(args: Buffer[]): number | undefined | { error: string; ofTime?: true } {
  let unit: string | undefined;
  let amount: Buffer | undefined;
  let persist = false;
  for (let i = 2; i < args.length; i++) {
    const opt = args[i]!.toString('latin1').toUpperCase();
    if (GETEX_UNITS.has(opt) && !persist && (unit === undefined || unit === opt) && i + 1 < args.length) {
      unit = opt;
      amount = args[++i]!;
    } else if (opt === 'PERSIST' && unit === undefined) persist = true;
    else return { error: 'ERR syntax error' };
  }
  if (persist) return 0;
  if (unit === undefined || amount === undefined) return undefined;
  const n = parseInt64(amount.toString('latin1'));
  if (n === undefined) return { error: NOT_INTEGER, ofTime: true };
  const invalid = { error: "ERR invalid expire time in 'getex' command", ofTime: true } as const;
  if (n <= 0n) return invalid;
  const ms = unit === 'EX' || unit === 'EXAT' ? Number(n) * 1000 : Number(n);
  const now = Date.now();
  const at = unit === 'EX' || unit === 'PX' ? now + ms : ms;
  return at - now > MAX_TTL_MS ? invalid : at;
}

/**
 * getex: GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST]: the value, and the expiry set in the
 * same step (a time already past deletes the key). Without options it is a GET.
 */
export function getex(c: RespConnection, args: Buffer[]): void {
  // A write command (its flags say so), so it is served by the leader even after READONLY; a key
  // another node owns is redirected before the options are read, as Redis Cluster does.
  const t = routeKey(c, args[1]!, true);
  if (t === undefined) return;
  const at = getexExpiry(args);
  if (typeof at === 'object' && at.ofTime !== true) {
    c.queue.now(c.proto).error(at.error);
    return;
  }
  if (at === undefined || typeof at === 'object') {
    // A bad time is answered, as Redis answers it, only once the key is found.
    const format = (w: RespWriter, status: number, _seq: number, value: Buffer): void => {
      if (status === ST_VALUE) {
        if (at === undefined) w.bulk(value);
        else w.error(at.error);
      } else if (status === ST_MISSING) w.nil();
      else w.error(errorText(value));
    };
    c.ctx.pool.submit(t.worker, OP_GET, t.store, args[1]!, undefined, c.queue.later(c.proto, format));
    return;
  }
  submitEdit(c, t, args[1]!, EDIT_GETEX, Buffer.alloc(0), asOld, at);
}
