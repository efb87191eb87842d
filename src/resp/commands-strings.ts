/**
 * The string commands: GET, SET (NX, XX, GET, KEEPTTL, EX, PX, EXAT, PXAT), DEL, EXISTS, MGET, MSET, STRLEN, TYPE,
 * INCR, INCRBY, DECR, DECRBY. Each becomes ops in the same worker batches as HTTP requests
 * (op-format.ts); conditional writes and INCR run as one read-modify-write op on the store's
 * worker, so they are atomic (INCR as an EDIT_INCRBY edit, held to the value limit, when
 * max_value_bytes is under 20 bytes). Multi-key commands need their keys in one slot (key-route.ts), hence
 * one store; their ops go into one batch. A SET of a key and a value only is an OP_PUT; every
 * other SET (NX, XX, GET, an expiry or KEEPTTL: docs/api.md, "TTL") is one OP_SET_IF, which checks
 * NX/XX, writes the expiry, and answers the old value only with GET (a failed condition answers
 * nil). INCR* keep the key's TTL, as in Redis. DEL and EXISTS
 * also answer UNLINK and TOUCH (command-table-compat.ts).
 */
import {
  EDIT_INCRBY,
  encodeEdit,
  encodeSetIf,
  OP_DELETE_COUNTED,
  COUNTED_FOUND_ONLY,
  OP_EDIT,
  OP_GET,
  OP_INCR,
  OP_PUT,
  OP_SET_IF,
  SET_IF_KEEP_TTL,
  SET_IF_NO_OLD,
  SET_IF_NX,
  SET_IF_XX,
  ST_DONE,
  ST_ERROR,
  ST_MISSING,
  ST_VALUE,
} from '../worker/op-format.js';
import { MAX_TTL_MS } from '../http/write-conditions.js';
import type { OpHandler } from '../server/worker-pool.js';
import type { RespConnection } from './resp-connection.js';
import type { RespWriter } from './resp-format.js';
import { type LocalTarget, routeKey, routeKeys } from './key-route.js';
import { Gather, type Keep, type SubmitOne } from './gather.js';
import { errorText } from './worker-reply.js';
import { decodeOld, parseInt64 } from '../worker/read-modify-write.js';

const CRLF_BYTES = Buffer.from('\r\n');
const SYNTAX_ERROR = 'ERR syntax error';
const NOT_INTEGER = 'ERR value is not an integer or out of range';
/** MAX_INT64_BYTES is the length of the longest decimal 64-bit integer, -9223372036854775808. */
const MAX_INT64_BYTES = 20;

function formatGet(w: RespWriter, status: number, _seq: number, value: Buffer): void {
  if (status === ST_VALUE) w.bulk(value);
  else if (status === ST_MISSING) w.nil();
  else w.error(errorText(value));
}

function formatStrlen(w: RespWriter, status: number, _seq: number, value: Buffer): void {
  if (status === ST_VALUE) w.integer(value.length);
  else if (status === ST_MISSING) w.integer(0);
  else w.error(errorText(value));
}

function formatType(w: RespWriter, status: number, _seq: number, value: Buffer): void {
  if (status === ST_VALUE) w.simple('string');
  else if (status === ST_MISSING) w.simple('none');
  else w.error(errorText(value));
}

function formatIncr(w: RespWriter, status: number, _seq: number, value: Buffer): void {
  if (status === ST_DONE) {
    w.raw(Buffer.from(':'));
    w.raw(value);
    w.raw(CRLF_BYTES);
  } else w.error(errorText(value, true));
}

function tooLarge(c: RespConnection, value: Uint8Array): boolean {
  const limit = c.ctx.config.server.max_value_bytes;
  if (value.length <= limit) return false;
  c.queue.now(c.proto).error(`ERR value is ${value.length} bytes; limit is ${limit}`);
  return true;
}

/** submit queues one op on the target's worker (the key's bytes as received), its reply written by `format` in order. */
function submit(
  c: RespConnection,
  t: LocalTarget,
  op: Parameters<RespConnection['ctx']['pool']['submit']>[1],
  key: Uint8Array,
  value: Uint8Array | string | undefined,
  handler: OpHandler,
): void {
  c.ctx.pool.submit(t.worker, op, t.store, key, value, handler);
}

/** get: GET key. */
export function get(c: RespConnection, args: Buffer[]): void {
  getKey(c, args[1]!);
}

/**
 * getKey runs GET `key`: the general path's (`get`) and the parser's GET/SET fast path's
 * (command-dispatch.ts `dispatchGetSet`), so both answer alike. `key` is copied into the op batch at once.
 */
export function getKey(c: RespConnection, key: Uint8Array): void {
  const t = routeKey(c, key, false);
  if (t === undefined) return;
  submit(c, t, OP_GET, key, undefined, c.queue.later(c.proto, formatGet));
}

/** setKey runs SET `key` `value` without options, as `getKey` runs GET; both are copied into the op batch at once. */
export function setKey(c: RespConnection, key: Uint8Array, value: Uint8Array): void {
  if (tooLarge(c, value)) return;
  const t = routeKey(c, key, true);
  if (t === undefined) return;
  submit(c, t, OP_PUT, key, value, c.queue.later(c.proto, formatSetOk, t.store));
}

/** strlen: STRLEN key. */
export function strlen(c: RespConnection, args: Buffer[]): void {
  const t = routeKey(c, args[1]!, false);
  if (t === undefined) return;
  submit(c, t, OP_GET, args[1]!, undefined, c.queue.later(c.proto, formatStrlen));
}

/** type: TYPE key ("string" or "none": distkv stores strings only). */
export function type(c: RespConnection, args: Buffer[]): void {
  const t = routeKey(c, args[1]!, false);
  if (t === undefined) return;
  submit(c, t, OP_GET, args[1]!, undefined, c.queue.later(c.proto, formatType));
}

const EXPIRY_OPTIONS = new Set(['EX', 'PX', 'EXAT', 'PXAT']);

/**
 * expiryOf turns SET's EX/PX/EXAT/PXAT argument into an absolute time in ms, or the error Redis
 * answers: not an integer, or not positive (distkv also refuses more than ten years ahead).
 */
function expiryOf(opt: string, arg: Buffer): number | string {
  const n = parseInt64(arg.toString('latin1'));
  if (n === undefined) return NOT_INTEGER;
  const invalid = "ERR invalid expire time in 'set' command";
  if (n <= 0n) return invalid;
  const ms = opt === 'EX' || opt === 'EXAT' ? Number(n) * 1000 : Number(n);
  const at = opt === 'EX' || opt === 'PX' ? Date.now() + ms : ms;
  return ms > (opt.endsWith('AT') ? Date.now() + MAX_TTL_MS : MAX_TTL_MS) ? invalid : at;
}

/**
 * set: SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]. Options parse as
 * Redis parses them: one expiry option (repeated, the last wins), NX or XX. An EXAT/PXAT time
 * already past sets the key expired: the OP_SET_IF deletes it (under the NX/XX condition), as
 * Redis deletes it at once.
 */
export function set(c: RespConnection, args: Buffer[]): void {
  if (args.length === 3) {
    setKey(c, args[1]!, args[2]!);
    return;
  }
  // As Redis Cluster: a key another node owns is redirected before the command's options are read.
  const t = routeKey(c, args[1]!, true);
  if (t === undefined) return;
  let flags = 0;
  let getOld = false;
  let keepTtl = false;
  let unit: string | undefined;
  let expiry: Buffer | undefined;
  for (let i = 3; i < args.length; i++) {
    const opt = args[i]!.toString('latin1').toUpperCase();
    if (opt === 'NX' && !(flags & SET_IF_XX)) flags |= SET_IF_NX;
    else if (opt === 'XX' && !(flags & SET_IF_NX)) flags |= SET_IF_XX;
    else if (opt === 'GET') getOld = true;
    else if (opt === 'KEEPTTL' && unit === undefined) keepTtl = true;
    else if (
      EXPIRY_OPTIONS.has(opt) &&
      !keepTtl &&
      (unit === undefined || unit === opt) &&
      i + 1 < args.length
    ) {
      unit = opt;
      expiry = args[++i]!;
    } else {
      c.queue.now(c.proto).error(SYNTAX_ERROR);
      return;
    }
  }
  let expiresAtMs = 0;
  if (unit !== undefined && expiry !== undefined) {
    const at = expiryOf(unit, expiry);
    if (typeof at === 'string') {
      c.queue.now(c.proto).error(at);
      return;
    }
    expiresAtMs = at;
  }
  const value = args[2]!;
  if (tooLarge(c, value)) return;
  if (flags === 0 && !getOld && !keepTtl && expiresAtMs === 0) {
    submit(c, t, OP_PUT, args[1]!, value, c.queue.later(c.proto, formatSetOk, t.store));
    return;
  }
  // Every other form is one OP_SET_IF: NX/XX checked, the expiry written (or kept, or a time past
  // deleting the key) and, with GET, the old value answered, atomically on the store's worker
  // against the key's newest write. It waits for nothing there, so it needs no ordering here.
  const body = encodeSetIf(
    flags | (keepTtl ? SET_IF_KEEP_TTL : 0) | (getOld ? 0 : SET_IF_NO_OLD),
    value,
    expiresAtMs,
  );
  const format = getOld ? formatSetGet : formatSetIf;
  submit(c, t, OP_SET_IF, args[1]!, body, c.queue.later(c.proto, format, t.store));
}

function formatSetOk(w: RespWriter, status: number, _seq: number, value: Buffer): void {
  if (status === ST_DONE) w.ok();
  else w.error(errorText(value, true));
}

function formatSetIf(w: RespWriter, status: number, _seq: number, value: Buffer): void {
  if (status === ST_DONE) w.ok();
  else if (status === ST_MISSING) w.nil();
  else w.error(errorText(value, true));
}

function formatSetGet(w: RespWriter, status: number, _seq: number, value: Buffer): void {
  if (status === ST_ERROR) {
    w.error(errorText(value, true));
    return;
  }
  const old = decodeOld(value);
  if (old === undefined) w.nil();
  else w.bulk(old);
}

/** incrBy: INCR, DECR (delta ±1) and INCRBY, DECRBY (delta given); a result over max_value_bytes gets SET's error. */
export function incrBy(sign: 1 | -1, given: boolean): (c: RespConnection, args: Buffer[]) => void {
  return (c, args) => {
    const t = routeKey(c, args[1]!, true);
    if (t === undefined) return;
    let delta = BigInt(sign);
    if (given) {
      const d = parseInt64(args[2]!.toString('latin1'));
      if (d === undefined || (sign === -1 && d === -(2n ** 63n))) {
        c.queue
          .now(c.proto)
          .error(sign === -1 && d !== undefined ? 'ERR decrement would overflow' : NOT_INTEGER);
        return;
      }
      delta = d * BigInt(sign);
    }
    const handler = c.queue.later(c.proto, formatIncr, t.store);
    const limit = c.ctx.config.server.max_value_bytes;
    if (limit >= MAX_INT64_BYTES) {
      submit(c, t, OP_INCR, args[1]!, delta.toString(), handler);
      return;
    }
    // A result may pass a limit this small: the edit refuses it on the worker, as SET would.
    const arg = Buffer.from(delta.toString(), 'latin1');
    submit(c, t, OP_EDIT, args[1]!, encodeEdit({ kind: EDIT_INCRBY, limit, atMs: 0, arg }), handler);
  };
}

/** mget: MGET key [key ...]. */
export function mget(c: RespConnection, args: Buffer[]): void {
  gatherKeys(c, args, 'value', OP_GET, undefined, c.roundKeys, writeValues);
}

function writeValues(w: RespWriter, g: Gather): void {
  w.array(g.values.length);
  for (const v of g.values) {
    if (v === undefined) w.nil();
    // The Gather's own copy, unchanged until the reply is sent: large ones are not copied again.
    else w.bulkShared(v);
  }
}

/** exists: EXISTS key [key ...] (a key named twice counts twice, as in Redis). */
export function exists(c: RespConnection, args: Buffer[]): void {
  gatherKeys(c, args, 'found', OP_GET, undefined, c.roundKeys, writeCount);
}

/**
 * del: DEL key [key ...], answering how many existed. Its deletes answer without the old values
 * (COUNTED_FOUND_ONLY), so they go all at once (roundKeys 0): one group commit, as atomic for other
 * clients as Redis's DEL.
 */
export function del(c: RespConnection, args: Buffer[]): void {
  gatherKeys(c, args, 'old', OP_DELETE_COUNTED, COUNTED_FOUND_ONLY, 0, writeCount);
}

/**
 * gatherKeys submits `op` (with `value`) for each key of `args` (from 1) in rounds of `roundKeys`
 * (gather.ts; 0: all at once) and answers with `write`.
 */
function gatherKeys(
  c: RespConnection,
  args: Buffer[],
  keep: Keep,
  op: typeof OP_GET | typeof OP_DELETE_COUNTED,
  value: Buffer | undefined,
  roundKeys: number,
  write: (w: RespWriter, g: Gather) => void,
): void {
  const t = routeKeys(c, args, 1, -1, 1, op !== OP_GET);
  if (t === undefined) return;
  const submitKey: SubmitOne = (conn, target, i, handler) => {
    submit(conn, target, op, args[i + 1]!, value, handler);
  };
  new Gather(c, t, args.length - 1, keep, submitKey, write, roundKeys, op !== OP_GET);
}

function writeCount(w: RespWriter, g: Gather): void {
  w.integer(g.values.filter((v) => v !== undefined).length);
}

/** mset: MSET key value [key value ...]. */
export function mset(c: RespConnection, args: Buffer[]): void {
  for (let i = 2; i < args.length; i += 2) if (tooLarge(c, args[i]!)) return;
  // As Redis Cluster: the keys are redirected before the pairs are counted (a key without its value too).
  const t = routeKeys(c, args, 1, -1, 2, true);
  if (t === undefined) return;
  if (args.length % 2 === 0) {
    c.queue.now(c.proto).error("ERR wrong number of arguments for 'mset' command");
    return;
  }
  const submitPair: SubmitOne = (conn, target, i, handler) => {
    submit(conn, target, OP_PUT, args[2 * i + 1]!, args[2 * i + 2], handler);
  };
  // All at once (roundKeys 0): the values are in the command already, and it is one group commit.
  new Gather(
    c,
    t,
    (args.length - 1) / 2,
    'found',
    submitPair,
    (w) => {
      w.ok();
    },
    0,
    true,
  );
}
