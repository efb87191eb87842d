/**
 * The older forms of SET that applications still send, each the op its modern form uses:
 * SETNX (SET NX: OP_SET_IF), SETEX and PSETEX (SET EX / PX: OP_SET_IF with the expiry),
 * GETSET (SET GET: OP_SET_IF, answering the old value), GETDEL (OP_DELETE_COUNTED, answering the
 * value it deleted) and MSETNX (an OP_TXN whose writes each need their key missing: all are
 * written, in one group commit, or none). Each runs as one op on the store's worker, so each is
 * atomic as in Redis; like SET, each write removes a key's expiry unless it sets one.
 */
import {
  COND_IF_NONE_MATCH,
  encodeExt,
  encodeSetIf,
  encodeTxn,
  OP_DELETE_COUNTED,
  OP_PUT_EXT,
  OP_SET_IF,
  OP_TXN,
  SET_IF_NO_OLD,
  SET_IF_NX,
  ST_CONFLICT,
  ST_DONE,
  ST_ERROR,
  ST_MISSING,
  type TxnSub,
} from '../worker/op-format.js';
import { decodeOld, parseInt64 } from '../worker/read-modify-write.js';
import { MAX_TTL_MS } from '../http/write-conditions.js';
import { routeKey, routeKeys } from './key-route.js';
import type { Pending } from './reply-queue.js';
import type { RespConnection } from './resp-connection.js';
import type { RespWriter } from './resp-format.js';
import { errorText } from './worker-reply.js';

/** MAX_TXN_WRITES is how many writes one OP_TXN holds (its count is a u16). */
const MAX_TXN_WRITES = 0xffff;

/** tooLarge answers SET's error for a value over `max_value_bytes`. */
function tooLarge(c: RespConnection, value: Buffer): boolean {
  const limit = c.ctx.config.server.max_value_bytes;
  if (value.length <= limit) return false;
  c.queue.now(c.proto).error(`ERR value is ${value.length} bytes; limit is ${limit}`);
  return true;
}

/** setIf submits an OP_SET_IF of `value` with `flags` (SET_IF_ flags) on `key`. */
function setIf(
  c: RespConnection,
  key: Buffer,
  value: Buffer,
  flags: number,
  format: (w: RespWriter, status: number, seq: number, value: Buffer, p: Pending) => void,
): void {
  if (tooLarge(c, value)) return;
  const t = routeKey(c, key, true);
  if (t === undefined) return;
  const body = encodeSetIf(flags, value);
  c.ctx.pool.submit(t.worker, OP_SET_IF, t.store, key, body, c.queue.later(c.proto, format, t.store));
}

function formatWritten(w: RespWriter, status: number, _seq: number, value: Buffer): void {
  if (status === ST_DONE) w.integer(1);
  else if (status === ST_MISSING || status === ST_CONFLICT) w.integer(0);
  else w.error(errorText(value, true));
}

/** formatOld answers the old value an OP_SET_IF or OP_DELETE_COUNTED reports (nil: the key was missing). */
function formatOld(w: RespWriter, status: number, _seq: number, value: Buffer): void {
  if (status === ST_ERROR) {
    w.error(errorText(value, true));
    return;
  }
  // GETSET always writes; GETDEL of a missing key answers ST_DONE with the store's last seq (WAIT
  // then waits for it: the reply queue notes every ST_DONE of a write).
  const old = decodeOld(value);
  if (old === undefined) w.nil();
  else w.bulk(old);
}

/** setnx: SETNX key value (1 if set, 0 if the key exists). */
export function setnx(c: RespConnection, args: Buffer[]): void {
  setIf(c, args[1]!, args[2]!, SET_IF_NX | SET_IF_NO_OLD, formatWritten);
}

/** getset: GETSET key value (the old value, or nil). */
export function getset(c: RespConnection, args: Buffer[]): void {
  setIf(c, args[1]!, args[2]!, 0, formatOld);
}

/** getdel: GETDEL key (the value it deleted, or nil). */
export function getdel(c: RespConnection, args: Buffer[]): void {
  const t = routeKey(c, args[1]!, true);
  if (t === undefined) return;
  c.ctx.pool.submit(
    t.worker,
    OP_DELETE_COUNTED,
    t.store,
    args[1]!,
    undefined,
    c.queue.later(c.proto, formatOld, t.store),
  );
}

function formatSetOk(w: RespWriter, status: number, _seq: number, value: Buffer): void {
  if (status === ST_DONE) w.ok();
  else w.error(errorText(value));
}

/**
 * setex: SETEX key seconds value and PSETEX key ms value. A time of 0 or less is invalid, as in
 * Redis; more than ten years is refused (docs/api.md, "TTL").
 */
export function setex(unitMs: 1 | 1000): (c: RespConnection, args: Buffer[]) => void {
  const invalid = `ERR invalid expire time in '${unitMs === 1 ? 'psetex' : 'setex'}' command`;
  return (c, args) => {
    const t = routeKey(c, args[1]!, true);
    if (t === undefined) return;
    const n = parseInt64(args[2]!.toString('latin1'));
    if (n === undefined) {
      c.queue.now(c.proto).error('ERR value is not an integer or out of range');
      return;
    }
    const ms = Number(n) * unitMs;
    if (n <= 0n || ms > MAX_TTL_MS) {
      c.queue.now(c.proto).error(invalid);
      return;
    }
    const value = args[3]!;
    if (tooLarge(c, value)) return;
    const body = encodeSetIf(SET_IF_NO_OLD, value, Date.now() + ms);
    c.ctx.pool.submit(
      t.worker,
      OP_SET_IF,
      t.store,
      args[1]!,
      body,
      c.queue.later(c.proto, formatSetOk, t.store),
    );
  };
}

/**
 * msetnx: MSETNX key value [key value ...] (1 if every key was missing and all are set, else 0 and
 * none is). The keys share a slot (else CROSSSLOT), hence a store: one OP_TXN whose conditions are
 * checked together; a key that has a conditional write waiting gates the transaction's keys on
 * the worker (src/worker/key-gates.ts), so later commands on them stay in order.
 */
export function msetnx(c: RespConnection, args: Buffer[]): void {
  for (let i = 2; i < args.length; i += 2) if (tooLarge(c, args[i]!)) return;
  // As Redis Cluster: the keys are redirected before the pairs are counted (a key without its value too).
  const t = routeKeys(c, args, 1, -1, 2, true);
  if (t === undefined) return;
  if (args.length % 2 === 0) {
    c.queue.now(c.proto).error("ERR wrong number of arguments for 'msetnx' command");
    return;
  }
  if ((args.length - 1) / 2 > MAX_TXN_WRITES) {
    c.queue.now(c.proto).error(`ERR MSETNX takes at most ${MAX_TXN_WRITES} keys in distkv`);
    return;
  }
  const subs: TxnSub[] = [];
  for (let i = 1; i < args.length; i += 2) {
    const ext = encodeExt({ flags: COND_IF_NONE_MATCH, ifSeq: 0, expiresAtMs: 0 }, args[i + 1]);
    subs.push({ op: OP_PUT_EXT, key: args[i]!, value: ext });
  }
  c.ctx.pool.submit(
    t.worker,
    OP_TXN,
    t.store,
    '',
    encodeTxn(subs),
    c.queue.later(c.proto, formatWritten, t.store),
  );
}
