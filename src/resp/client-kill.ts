/**
 * CLIENT KILL over the connections of this node's RESP listener (the ones CLIENT LIST shows), read
 * and answered as redis-server 7.0 does (clientCommand):
 *
 *   CLIENT KILL addr:port                 the old form: +OK, or -ERR No such client; it may kill
 *                                         the connection that sends it
 *   CLIENT KILL filter value [filter value ...]
 *     filter := ID id | ADDR ip:port | LADDR ip:port | TYPE normal|master|replica|slave|pubsub
 *             | USER name | SKIPME yes|no | MAXAGE seconds
 *                                         the number of connections killed; every filter must
 *                                         match; SKIPME yes (the default) spares the sender
 *
 * Filters are read in order and the first bad one answers: an ID that is not an integer from 1
 * to 2^63-1 `client-id should be greater than 0`, an unknown type `Unknown client type 'x'`, a user
 * other than `default` `No such user 'x'`, an unknown filter, a filter without its value or
 * SKIPME other than yes/no `syntax error`. MAXAGE (Redis 7.4's filter; 7.0 answers `syntax error`)
 * kills the connections open for more seconds than it gives (CLIENT LIST's `age`); not an integer
 * is `value is not an integer or out of range`.
 *
 * Another connection is closed at once, its replies not yet written lost (Redis's freeClient);
 * the sender, when it kills itself, is closed once its reply and those before it are written, and
 * nothing it sent after CLIENT KILL runs (Redis's CLIENT_CLOSE_AFTER_REPLY). A connection killed
 * while a CLIENT PAUSE holds its command never runs it. Every distkv client is `normal` and
 * authenticated as `default`, so TYPE master, replica and pubsub match none.
 */
import { addressText, CLIENT_TYPES } from './client-list.js';
import type { RespConnection } from './resp-connection.js';
import type { RespWriter } from './resp-format.js';
import { parseInt64 } from '../worker/read-modify-write.js';

const INT64_MAX = 2n ** 63n - 1n;

/** KillFilter is what a connection must match to be killed. */
interface KillFilter {
  id?: number;
  addr?: string;
  laddr?: string;
  type?: string;
  maxAge?: bigint;
  skipMe: boolean;
}

/** parseFilters reads the filter form's pairs (args[2..]), or answers the first bad one on `w` and returns undefined. */
function parseFilters(args: readonly Buffer[], w: RespWriter): KillFilter | undefined {
  const f: KillFilter = { skipMe: true };
  for (let i = 2; i < args.length; i += 2) {
    const opt = args[i]!.toString('latin1').toLowerCase();
    const value = args[i + 1];
    if (value === undefined) {
      w.error('ERR syntax error');
      return undefined;
    }
    const text = value.toString('latin1');
    if (opt === 'id') {
      const id = parseInt64(text);
      if (id === undefined || id < 1n || id > INT64_MAX) {
        w.error('ERR client-id should be greater than 0');
        return undefined;
      }
      f.id = Number(id);
    } else if (opt === 'type') {
      if (!CLIENT_TYPES.has(text.toLowerCase())) {
        w.errorBytes(Buffer.concat([Buffer.from("ERR Unknown client type '"), value, Buffer.from("'")]));
        return undefined;
      }
      f.type = text.toLowerCase();
    } else if (opt === 'addr') f.addr = text;
    else if (opt === 'laddr') f.laddr = text;
    else if (opt === 'user') {
      // distkv has one user, `default` (commands-connection.ts); Redis matches user names exactly.
      if (text !== 'default') {
        w.errorBytes(Buffer.concat([Buffer.from("ERR No such user '"), value, Buffer.from("'")]));
        return undefined;
      }
    } else if (opt === 'skipme') {
      const yes = text.toLowerCase();
      if (yes !== 'yes' && yes !== 'no') {
        w.error('ERR syntax error');
        return undefined;
      }
      f.skipMe = yes === 'yes';
    } else if (opt === 'maxage') {
      const age = parseInt64(text);
      if (age === undefined) {
        w.error('ERR value is not an integer or out of range');
        return undefined;
      }
      f.maxAge = age;
    } else {
      w.error('ERR syntax error');
      return undefined;
    }
  }
  return f;
}

/** matches reports whether `other` passes every filter of `f` (`self` is the sender). */
function matches(f: KillFilter, other: RespConnection, self: RespConnection, now: number): boolean {
  if (f.addr !== undefined && addressText(other.remote) !== f.addr) return false;
  if (f.laddr !== undefined && addressText(other.io.local) !== f.laddr) return false;
  if (f.type !== undefined && f.type !== 'normal') return false;
  if (f.id !== undefined && other.id !== f.id) return false;
  if (f.maxAge !== undefined && BigInt(Math.floor((now - other.createdAt) / 1000)) <= f.maxAge) return false;
  return !(f.skipMe && other === self);
}

/** clientKill answers CLIENT KILL (both forms) on `w` for the connection `c` that sent it. */
export function clientKill(c: RespConnection, args: readonly Buffer[], w: RespWriter): void {
  const oldForm = args.length === 3;
  const f: KillFilter | undefined = oldForm
    ? { addr: args[2]!.toString('latin1'), skipMe: false }
    : parseFilters(args, w);
  if (f === undefined) return;
  const now = Date.now();
  let killed = 0;
  let killSelf = false;
  for (const other of c.ctx.clients()) {
    // One killed by an earlier command of this read is closed but not yet out of the list.
    if (other.gone || !matches(f, other, c, now)) continue;
    killed++;
    if (other === c) killSelf = true;
    else other.end();
  }
  if (!oldForm) w.integer(killed);
  else if (killed === 0) w.error('ERR No such client');
  else w.ok();
  if (killSelf) c.quit();
}
