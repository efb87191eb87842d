/**
 * The expiry commands (docs/resp.md; distkv's TTLs in docs/api.md, "TTL"): TTL, PTTL, EXPIRETIME,
 * PEXPIRETIME, EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, PERSIST. TTL/PTTL and EXPIRETIME/PEXPIRETIME
 * read the key's expiry (OP_GET_EXPIRY). EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT are an EDIT_EXPIRE edit
 * (with Redis 7's NX/XX/GT/LT as its condition on the key's current expiry) and PERSIST an
 * EDIT_PERSIST: each keeps the key's value and sets only its expiry, atomically on
 * the store's worker against its newest write, and is logged as a write. An expiry at or before
 * now deletes the key (EXPIRE of 0 or less, EXPIREAT of a time past), as in Redis.
 */
import {
  EDIT_EXPIRE,
  EDIT_PERSIST,
  encodeEdit,
  EXPIRE_GT,
  EXPIRE_LT,
  EXPIRE_NX,
  EXPIRE_XX,
  OP_EDIT,
  OP_GET_EXPIRY,
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

/** formatExpire answers an EDIT_EXPIRE or EDIT_PERSIST: 1 if the key's expiry was set or removed (or the key deleted), else 0. */
function formatExpire(w: RespWriter, status: number, _seq: number, value: Buffer): void {
  if (status === ST_DONE) w.integer(Number(value.toString('latin1')));
  else w.error(errorText(value, true));
}

/**
 * expire: EXPIRE key seconds / PEXPIRE key ms, and with `absolute` EXPIREAT key unix-seconds /
 * PEXPIREAT key unix-ms, each with Redis 7's NX / XX / GT / LT (1 if set, 0 if the key is missing
 * or a condition does not hold). An expiry at or before now deletes the key, as in Redis; more than
 * ten years ahead is refused. One EDIT_EXPIRE checks the conditions against the key's newest expiry
 * and writes, atomically on the store's worker (src/worker/edits.ts).
 */
export function expire(unitMs: 1 | 1000, absolute = false): (c: RespConnection, args: Buffer[]) => void {
  const name = `${unitMs === 1 ? 'p' : ''}expire${absolute ? 'at' : ''}`;
  return (c, args) => {
    const t = routeKey(c, args[1]!, true);
    if (t === undefined) return;
    // Redis reads the options before the time: an unknown or incompatible option is its error.
    const cond = conditionOf(args);
    if (typeof cond === 'string') {
      c.queue.now(c.proto).error(cond);
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
    // The time the key expires at, as Redis computes it (now plus ms, or the Unix time given): GT
    // and LT compare it with the key's expiry.
    const atMs = absolute ? Number(n) * unitMs : now + ms;
    const edit = encodeEdit({ kind: EDIT_EXPIRE, limit: 0, atMs, arg: Buffer.of(cond) });
    c.ctx.pool.submit(
      t.worker,
      OP_EDIT,
      t.store,
      args[1]!,
      edit,
      c.queue.later(c.proto, formatExpire, t.store),
    );
  };
}

/** MAX_SECONDS is the most seconds whose ms fit a signed 64-bit integer (Redis's LLONG_MAX / 1000). */
const MAX_SECONDS = 2n ** 63n / 1000n;

/** EXPIRE_OPTIONS maps EXPIRE's options to their EXPIRE_ flags. */
const EXPIRE_OPTIONS: ReadonlyMap<string, number> = new Map([
  ['NX', EXPIRE_NX],
  ['XX', EXPIRE_XX],
  ['GT', EXPIRE_GT],
  ['LT', EXPIRE_LT],
]);

/**
 * conditionOf reads EXPIRE's options after the time as Redis 7 does (parseExtendedExpireArgumentsOrReply):
 * an unknown one is `Unsupported option` (printed as a C string), NX with XX, GT or LT and GT with
 * LT are incompatible. It returns their error, or the EXPIRE_ flags of the options given.
 */
function conditionOf(args: Buffer[]): number | string {
  let cond = 0;
  for (const a of args.slice(3)) {
    const flag = EXPIRE_OPTIONS.get(a.toString('latin1').toUpperCase());
    if (flag === undefined) return `ERR Unsupported option ${cString(a).toString('latin1')}`;
    cond |= flag;
  }
  if (cond & EXPIRE_NX && cond & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT))
    return 'ERR NX and XX, GT or LT options at the same time are not compatible';
  if (cond & EXPIRE_GT && cond & EXPIRE_LT)
    return 'ERR GT and LT options at the same time are not compatible';
  return cond;
}

/** persist: PERSIST key (1 if an expiry was removed, 0 if the key is missing or has none), an EDIT_PERSIST. */
export function persist(c: RespConnection, args: Buffer[]): void {
  const t = routeKey(c, args[1]!, true);
  if (t === undefined) return;
  const edit = encodeEdit({ kind: EDIT_PERSIST, limit: 0, atMs: 0, arg: Buffer.alloc(0) });
  c.ctx.pool.submit(
    t.worker,
    OP_EDIT,
    t.store,
    args[1]!,
    edit,
    c.queue.later(c.proto, formatExpire, t.store),
  );
}
