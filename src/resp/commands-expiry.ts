/**
 * The expiry commands (docs/resp.md; distkv's TTLs in docs/api.md, "TTL"): TTL, PTTL, EXPIRETIME,
 * PEXPIRETIME, EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, PERSIST. TTL/PTTL and EXPIRETIME/PEXPIRETIME
 * read the key's expiry (OP_GET_EXPIRY); EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT/PERSIST are an
 * OP_PUT_EXT that keeps the key's value and sets only its expiry, conditioned on the key existing
 * (PERSIST: on it having an expiry), so they are atomic on the store's worker and logged as a write;
 * they are submitted in order (RespConnection.submitOrdered). An expiry at or before now deletes the
 * key (EXPIRE of 0 or less, EXPIREAT of a time past), as in Redis.
 */
import {
  COND_EXPIRES,
  COND_IF_EXISTS,
  encodeExt,
  EXT_KEEP_VALUE,
  OP_DELETE_EXT,
  OP_GET_EXPIRY,
  OP_PUT_EXT,
  ST_CONFLICT,
  ST_DONE,
  ST_MISSING,
  ST_VALUE,
} from '../worker/op-format.js';
import { parseInt64 } from '../worker/read-modify-write.js';
import { MAX_TTL_MS } from '../http/write-conditions.js';
import { routeKey } from './key-route.js';
import type { RespConnection } from './resp-connection.js';
import type { RespWriter } from './resp-format.js';
import { cString } from './unknown-command.js';
import { errorText } from './worker-reply.js';

/**
 * ttl: TTL key (seconds) or PTTL key (ms), and with `absolute` EXPIRETIME / PEXPIRETIME (the Unix
 * time of the expiry): -2 missing, -1 no expiry. Seconds are rounded half up, as Redis rounds them.
 */
export function ttl(unitMs: 1 | 1000, absolute = false): (c: RespConnection, args: Buffer[]) => void {
  const format = (w: RespWriter, status: number, _seq: number, value: Buffer): void => {
    if (status === ST_MISSING) w.integer(-2);
    else if (status !== ST_VALUE) w.error(errorText(value));
    else {
      const at = value.readDoubleLE(0);
      const left = Math.max(0, absolute ? at : at - Date.now());
      w.integer(at === 0 ? -1 : Math.round(left / unitMs));
    }
  };
  return (c, args) => {
    const t = routeKey(c, args[1]!, false);
    if (t === undefined) return;
    c.ctx.pool.submit(t.worker, OP_GET_EXPIRY, t.store, args[1]!, undefined, c.queue.later(c.proto, format));
  };
}

function formatChanged(w: RespWriter, status: number, _seq: number, value: Buffer): void {
  if (status === ST_DONE) w.integer(1);
  else if (status === ST_CONFLICT || status === ST_MISSING) w.integer(0);
  else w.error(errorText(value));
}

/**
 * expire: EXPIRE key seconds / PEXPIRE key ms, and with `absolute` EXPIREAT key unix-seconds /
 * PEXPIREAT key unix-ms (1 if set, 0 if the key is missing). An expiry at or before now deletes
 * the key, as in Redis (an OP_DELETE_EXT on the key existing); more than ten years ahead is refused,
 * and so are Redis 7's NX/XX/GT/LT conditions (optionsOf).
 */
export function expire(unitMs: 1 | 1000, absolute = false): (c: RespConnection, args: Buffer[]) => void {
  const name = `${unitMs === 1 ? 'p' : ''}expire${absolute ? 'at' : ''}`;
  return (c, args) => {
    const t = routeKey(c, args[1]!, true);
    if (t === undefined) return;
    // Redis reads the options before the time: an unknown or incompatible option is its error.
    const options = optionsOf(args);
    if (options.error !== undefined) {
      c.queue.now(c.proto).error(options.error);
      return;
    }
    const n = parseInt64(args[2]!.toString('latin1'));
    if (n === undefined) {
      c.queue.now(c.proto).error('ERR value is not an integer or out of range');
      return;
    }
    const now = Date.now();
    const ms = Number(n) * unitMs - (absolute ? now : 0);
    // Seconds that overflow a 64-bit count of ms are refused, as Redis refuses them (rather than
    // deleting the key, as any other time in the past does).
    const overflows = unitMs === 1000 && (n > MAX_SECONDS || n < -MAX_SECONDS);
    if (ms > MAX_TTL_MS || overflows) {
      c.queue.now(c.proto).error(`ERR invalid expire time in '${name}' command`);
      return;
    }
    // Redis checks the time before it looks at the key, hence before its conditions.
    if (options.given.length > 0) {
      c.queue
        .now(c.proto)
        .error(
          `ERR ${name.toUpperCase()} ${options.given.join(' ')} is not supported by distkv: it sets expiries without conditions`,
        );
      return;
    }
    const handler = c.queue.later(c.proto, formatChanged, t.store);
    if (ms <= 0) {
      const ext = { flags: COND_IF_EXISTS, ifSeq: 0, expiresAtMs: 0 };
      c.submitOrdered(t, OP_DELETE_EXT, args[1]!, encodeExt(ext), handler);
      return;
    }
    const ext = { flags: COND_IF_EXISTS | EXT_KEEP_VALUE, ifSeq: 0, expiresAtMs: now + ms };
    c.submitOrdered(t, OP_PUT_EXT, args[1]!, encodeExt(ext), handler);
  };
}

/** MAX_SECONDS is the most seconds whose ms fit a signed 64-bit integer (Redis's LLONG_MAX / 1000). */
const MAX_SECONDS = 2n ** 63n / 1000n;

/**
 * optionsOf reads EXPIRE's options after the time as Redis 7 does (parseExtendedExpireArgumentsOrReply):
 * an unknown one is `Unsupported option` (printed as a C string), NX with XX, GT or LT and GT with
 * LT are incompatible. It returns their error, or the options given (upper case), which distkv then
 * refuses by name once the time is read: it sets expiries without conditions (rather than
 * "wrong number of arguments", which sent a client looking for a bug of its own).
 */
function optionsOf(args: Buffer[]): { error?: string; given: string[] } {
  const given = args.slice(3).map((a) => a.toString('latin1').toUpperCase());
  const unknown = args.slice(3).find((_, i) => !['NX', 'XX', 'GT', 'LT'].includes(given[i]!));
  if (unknown !== undefined)
    return { error: `ERR Unsupported option ${cString(unknown).toString('latin1')}`, given };
  const has = (o: string): boolean => given.includes(o);
  if (has('NX') && (has('XX') || has('GT') || has('LT')))
    return { error: 'ERR NX and XX, GT or LT options at the same time are not compatible', given };
  if (has('GT') && has('LT'))
    return { error: 'ERR GT and LT options at the same time are not compatible', given };
  return { given };
}

/** persist: PERSIST key (1 if an expiry was removed, 0 if the key is missing or has none). */
export function persist(c: RespConnection, args: Buffer[]): void {
  const t = routeKey(c, args[1]!, true);
  if (t === undefined) return;
  const ext = { flags: COND_EXPIRES | EXT_KEEP_VALUE, ifSeq: 0, expiresAtMs: 0 };
  c.submitOrdered(t, OP_PUT_EXT, args[1]!, encodeExt(ext), c.queue.later(c.proto, formatChanged, t.store));
}
