/**
 * CLIENT LIST and CLIENT INFO: one line per connection of this RESP listener, with the fields of
 * redis-server 7.0 in its order (`id=7 addr=127.0.0.1:50712 laddr=... fd=... name= age=0 idle=0
 * flags=N db=0 ... cmd=client|list user=default redir=-1 resp=2`), so tools that parse them
 * (redis-cli, client libraries, monitoring) read distkv's. What distkv has no counterpart for is
 * reported as Redis reports its absence: no subscriptions (`sub=0`), no tracking (`redir=-1`), the
 * `default` user; `fd=-1` (Node does not expose a socket's descriptor), and the read buffer's
 * sizes `rbs`/`rbp`, `qbuf-free` and `argv-mem` as 0. Buffers are this connection's: `qbuf` the
 * bytes held of incomplete commands and gathered values, `obl` the replies not yet handed to the
 * socket, `omem` what the socket holds unsent, `tot-mem` their sum (docs/resp.md).
 */
import type { RespConnection } from './resp-connection.js';
import type { RespWriter } from './resp-format.js';

/** CONTAINERS are the commands whose subcommand is part of their full name, as Redis 7 names them (`client|list`). */
const CONTAINERS = new Set(['client', 'config', 'command', 'cluster', 'memory']);

/** commandFullName is the full name of a command for CLIENT LIST's `cmd`: `name`, or `name|sub` for a container with a subcommand. */
export function commandFullName(name: string, args: readonly Buffer[]): string {
  const sub = args[1];
  return CONTAINERS.has(name) && sub !== undefined ? `${name}|${sub.toString('latin1').toLowerCase()}` : name;
}

/** addressText formats a socket address as Redis does: `ip:port`, an IPv6 address in brackets. */
export function addressText(address: string): string {
  const colon = address.lastIndexOf(':');
  const ip = address.slice(0, colon);
  return ip.includes(':') ? `[${ip}]${address.slice(colon)}` : address;
}

/** flagsOf are a connection's CLIENT LIST flags, in Redis's order: x (in MULTI), b (in WAIT), c (closing after its replies), r (READONLY); N for none. */
function flagsOf(c: RespConnection, closing: boolean): string {
  const flags =
    (c.inMulti !== undefined ? 'x' : '') +
    (c.blocked ? 'b' : '') +
    (closing ? 'c' : '') +
    (c.readonly ? 'r' : '');
  return flags === '' ? 'N' : flags;
}

/** clientLine is `c`'s CLIENT LIST line (without its newline) at `nowMs`. */
export function clientLine(c: RespConnection, nowMs: number): string {
  const io = c.io;
  const seconds = (ms: number): number => Math.max(0, Math.floor(ms / 1000));
  // multi: the commands queued in MULTI, none since distkv refuses them (commands-transaction.ts).
  return [
    `id=${c.id}`,
    `addr=${addressText(c.remote)}`,
    `laddr=${addressText(io.local)}`,
    'fd=-1',
    `name=${c.name}`,
    `age=${seconds(nowMs - c.createdAt)}`,
    `idle=${seconds(nowMs - c.lastReadAt)}`,
    `flags=${flagsOf(c, io.closing)}`,
    'db=0 sub=0 psub=0 ssub=0',
    `multi=${c.inMulti === undefined ? -1 : 0}`,
    `qbuf=${io.held} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0`,
    `obl=${io.queued} oll=0 omem=${io.unsent}`,
    `tot-mem=${io.held + io.queued + io.unsent}`,
    `events=${io.reading ? 'r' : ''}${io.writing ? 'w' : ''}`,
    `cmd=${c.lastCommand}`,
    'user=default redir=-1',
    `resp=${c.proto}`,
  ].join(' ');
}

/** CLIENT_TYPES are the names CLIENT LIST TYPE and CLIENT KILL TYPE take, in lower case (every distkv client is `normal`). */
export const CLIENT_TYPES = new Set(['normal', 'master', 'replica', 'slave', 'pubsub']);

/**
 * clientList: CLIENT LIST [TYPE normal|master|replica|pubsub | ID id [id ...]], parsed as redis-server
 * 7.0 parses it (one filter; every argument after ID an integer, else `Invalid client ID`).
 */
export function clientList(c: RespConnection, args: Buffer[], w: RespWriter): void {
  const opt = args[2]?.toString('latin1').toLowerCase();
  let keep: (other: RespConnection) => boolean = () => true;
  if (args.length === 4 && opt === 'type') {
    const type = args[3]!.toString('latin1');
    if (!CLIENT_TYPES.has(type.toLowerCase())) {
      w.error(`ERR Unknown client type '${type}'`);
      return;
    }
    keep = () => type.toLowerCase() === 'normal';
  } else if (args.length > 3 && opt === 'id') {
    const ids = new Set<number>();
    for (const a of args.slice(3)) {
      const text = a.toString('latin1');
      if (!/^-?\d{1,19}$/.test(text)) {
        w.error('ERR Invalid client ID');
        return;
      }
      ids.add(Number(text));
    }
    keep = (other) => ids.has(other.id);
  } else if (args.length !== 2) {
    w.error('ERR syntax error');
    return;
  }
  const now = Date.now();
  let text = '';
  for (const other of c.ctx.clients()) if (keep(other)) text += `${clientLine(other, now)}\n`;
  w.verbatim(text);
}

/** clientInfo: CLIENT INFO, the line of the connection that sends it. */
export function clientInfo(c: RespConnection, w: RespWriter): void {
  w.verbatim(`${clientLine(c, Date.now())}\n`);
}
