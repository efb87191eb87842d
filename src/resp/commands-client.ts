/**
 * CLIENT and its subcommands, answered as redis-server 7.0 answers them (docs/resp.md): ID,
 * GETNAME, SETNAME, SETINFO, INFO and LIST (client-list.ts), KILL (client-kill.ts), PAUSE and
 * UNPAUSE (client-pause.ts), UNBLOCK (of a WAIT), REPLY, NO-EVICT and NO-TOUCH (accepted: distkv
 * evicts no client and keeps no access times), HELP, and the client-side caching ones: distkv sends no invalidation
 * messages, so TRACKING OFF answers OK (after Redis's checks of its options), TRACKING ON is
 * refused, and CACHING, GETREDIR and TRACKINGINFO answer as Redis does for a connection that does
 * not track.
 *
 * CLIENT_SUBCOMMANDS are their entries for COMMAND INFO and DOCS (`client|kill`: redis-server
 * 7.0's arity, flags and ACL categories) and give each its argument count, checked before it runs.
 */
import { arityFits, type CommandSpec, NO_KEYS, spec } from './command-spec.js';
import { clientKill } from './client-kill.js';
import { clientInfo, clientList } from './client-list.js';
import { PAUSE_MODE, type PauseMode } from './client-pause.js';
import { BAD_NAME, lower, validName } from './commands-connection.js';
import type { RespConnection } from './resp-connection.js';
import type { RespWriter } from './resp-format.js';
import { subcommandSyntaxError, unknownSubcommand } from './unknown-command.js';
import { parseInt64 } from '../worker/read-modify-write.js';

const INT64_MAX = 2n ** 63n - 1n;

const CLIENT_HELP = [
  'CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'ID, GETNAME, SETNAME <name>, SETINFO <attr> <value>, INFO, LIST [TYPE <type> | ID <id> [<id> ...]], REPLY (ON|OFF|SKIP), NO-EVICT, NO-TOUCH, HELP',
  'KILL <ip:port> | KILL [ID <id>] [ADDR <ip:port>] [LADDR <ip:port>] [TYPE <type>] [USER <user>] [SKIPME (YES|NO)] [MAXAGE <seconds>]',
  "PAUSE <timeout> [WRITE|ALL], UNPAUSE (this node's RESP connections only)",
  'UNBLOCK <clientid> [TIMEOUT|ERROR] (a connection waiting in WAIT; one held by a pause is not unblocked)',
  'TRACKING OFF, CACHING, GETREDIR, TRACKINGINFO (no client-side caching: TRACKING ON is refused)',
];

const CONNECTION = ['@slow', '@connection'];
const ADMIN = ['@admin', '@slow', '@dangerous', '@connection'];

/** sub is the entry of subcommand `name` of CLIENT, with Redis's ACL categories and tips. */
function sub(
  name: string,
  arity: number,
  flags: string,
  categories: readonly string[],
  summary: string,
  tips: readonly string[] = [],
): CommandSpec {
  return {
    ...spec(`client|${name}`, arity, flags, NO_KEYS, 'connection', summary, client),
    categories,
    tips,
  };
}

const USER = 'noscript loading stale';
const OPERATOR = 'admin noscript loading stale';

/** CLIENT_SUBCOMMANDS are CLIENT's subcommands (redis-server 7.0's; SETINFO and NO-TOUCH are 7.2's). */
export const CLIENT_SUBCOMMANDS: readonly CommandSpec[] = [
  sub('caching', 3, USER, CONNECTION, 'Refused: no client-side caching (as Redis without TRACKING).'),
  sub('getname', 2, USER, CONNECTION, 'Returns the name of the connection.'),
  sub('getredir', 2, USER, CONNECTION, 'Returns -1: no tracking redirection.'),
  sub('help', 2, 'loading stale', CONNECTION, 'Returns helpful text about the different subcommands.'),
  sub('id', 2, USER, CONNECTION, 'Returns the unique client ID of the connection.'),
  sub('info', 2, USER, CONNECTION, 'Returns information about the connection.', ['nondeterministic_output']),
  sub('kill', -3, OPERATOR, ADMIN, "Kills connections of this node's RESP listener."),
  sub('list', -2, OPERATOR, ADMIN, "Lists the connections of this node's RESP listener.", [
    'nondeterministic_output',
  ]),
  sub('no-evict', 3, OPERATOR, ADMIN, 'Accepted: distkv evicts no client for memory.'),
  sub('no-touch', 3, USER, CONNECTION, 'Accepted: distkv keeps no access times.'),
  sub('pause', -3, OPERATOR, ADMIN, "Holds the commands of this node's RESP connections for some time."),
  sub('reply', 3, USER, CONNECTION, 'Instructs the server whether to reply to commands.'),
  sub('setinfo', 4, USER, CONNECTION, 'Accepted: sets nothing.'),
  sub('setname', 3, USER, CONNECTION, 'Sets the connection name.'),
  sub('tracking', -3, USER, CONNECTION, 'OFF only: no client-side caching.'),
  sub('trackinginfo', 2, USER, CONNECTION, 'Returns that the connection does not track.'),
  sub('unblock', -3, OPERATOR, ADMIN, "Unblocks a connection of this node's RESP listener waiting in WAIT."),
  sub('unpause', 2, OPERATOR, ADMIN, "Ends a CLIENT PAUSE of this node's RESP connections."),
];

const BY_NAME = new Map(CLIENT_SUBCOMMANDS.map((s) => [s.name.slice('client|'.length), s]));

/** client: CLIENT <subcommand> ... (module comment). */
export function client(c: RespConnection, args: Buffer[]): void {
  const name = lower(args[1]);
  // Before a reply is reserved: REPLY ON's own OK must not be muted, OFF and SKIP have none.
  if (name === 'reply' && args.length === 3) {
    const mode = lower(args[2]);
    if (mode === 'on' || mode === 'off' || mode === 'skip') {
      c.queue.replyMode(mode);
      if (mode === 'on') c.queue.now(c.proto).ok();
    } else c.queue.now(c.proto).error('ERR syntax error');
    return;
  }
  const w = c.queue.now(c.proto);
  const entry = BY_NAME.get(name);
  if (entry === undefined) {
    w.errorBytes(unknownSubcommand(args[1]!, 'CLIENT'));
    return;
  }
  if (!arityFits(entry, args.length)) {
    w.error(`ERR wrong number of arguments for '${entry.name}' command`);
    return;
  }
  switch (name) {
    case 'id':
      w.integer(c.id);
      return;
    case 'getname':
      if (c.name === '') w.nil();
      else w.bulk(c.name);
      return;
    case 'setname': {
      const given = args[2]!.toString();
      if (!validName(given)) {
        w.error(BAD_NAME);
        return;
      }
      c.name = given;
      w.ok();
      return;
    }
    case 'info':
      clientInfo(c, w);
      return;
    case 'list':
      clientList(c, args, w);
      return;
    case 'kill':
      clientKill(c, args, w);
      return;
    case 'pause':
      clientPause(c, args, w);
      return;
    case 'unblock':
      clientUnblock(c, args, w);
      return;
    case 'unpause':
      c.ctx.pause.unpause();
      w.ok();
      return;
    case 'no-evict':
    case 'no-touch': {
      const mode = lower(args[2]);
      if (mode === 'on' || mode === 'off') w.ok();
      else w.error('ERR syntax error');
      return;
    }
    case 'tracking':
      tracking(c, args, w);
      return;
    case 'caching':
      w.error(
        'ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled',
      );
      return;
    case 'getredir':
      w.integer(-1);
      return;
    case 'trackinginfo':
      w.stringMap([
        [
          'flags',
          (m) => {
            m.set(1);
            m.bulk('off');
          },
        ],
        ['redirect', -1],
        [
          'prefixes',
          (m) => {
            m.array(0);
          },
        ],
      ]);
      return;
    case 'setinfo': // accepted: the attributes only name the client library
      w.ok();
      return;
    case 'help':
      w.help(CLIENT_HELP);
      return;
  }
}

/**
 * clientPause: CLIENT PAUSE timeout [WRITE|ALL], checked in redis-server 7.0's order (the mode,
 * then the timeout: an integer of ms, not negative). A timeout whose end passes 2^63-1 ms is
 * refused (`timeout is out of range`; Redis 7.0 overflows and does not pause); 0 sets no pause.
 */
function clientPause(c: RespConnection, args: Buffer[], w: RespWriter): void {
  if (args.length > 4) {
    w.errorBytes(subcommandSyntaxError(args[1]!, 'CLIENT'));
    return;
  }
  let mode: PauseMode = PAUSE_MODE.all;
  if (args.length === 4) {
    const given = lower(args[3]);
    if (given === 'write') mode = PAUSE_MODE.write;
    else if (given !== 'all') {
      w.error('ERR CLIENT PAUSE mode must be WRITE or ALL');
      return;
    }
  }
  const timeout = parseInt64(args[2]!.toString('latin1'));
  const now = Date.now();
  if (timeout === undefined) w.error('ERR timeout is not an integer or out of range');
  else if (timeout < 0n) w.error('ERR timeout is negative');
  else if (timeout > INT64_MAX - BigInt(now)) w.error('ERR timeout is out of range');
  else {
    c.ctx.pause.pause(timeout === 0n ? 0 : now + Number(timeout), mode);
    w.ok();
  }
}

/**
 * clientUnblock: CLIENT UNBLOCK id [TIMEOUT|ERROR], checked in redis-server 7.0's order (the
 * reason, then the id). Answers 1 and ends the WAIT of connection `id` (its replicas counted so
 * far, or the UNBLOCKED error with ERROR), 0 for an id not waiting in WAIT: unknown, idle, or held
 * by CLIENT PAUSE (a command a pause holds has not started; redis-server 7.0.15 crashes when asked
 * to unblock one).
 */
function clientUnblock(c: RespConnection, args: Buffer[], w: RespWriter): void {
  if (args.length > 4) {
    w.errorBytes(subcommandSyntaxError(args[1]!, 'CLIENT'));
    return;
  }
  const reason = args.length === 4 ? lower(args[3]) : 'timeout';
  if (reason !== 'timeout' && reason !== 'error') {
    w.error('ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR');
    return;
  }
  const id = parseInt64(args[2]!.toString('latin1'));
  if (id === undefined) {
    w.error('ERR value is not an integer or out of range');
    return;
  }
  for (const other of c.ctx.clients())
    if (BigInt(other.id) === id && other.unblock !== undefined) {
      other.unblock(reason === 'error');
      w.integer(1);
      return;
    }
  w.integer(0);
}

/** TRACKING_OPTIONS are the options of CLIENT TRACKING that take no value. */
const TRACKING_OPTIONS = new Set(['bcast', 'optin', 'optout', 'noloop']);

/**
 * tracking: CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT] [NOLOOP],
 * its options checked as redis-server 7.0 checks them (a REDIRECT to a connection this listener
 * does not have, or a second one, is refused), then OFF answers OK and ON is refused.
 */
function tracking(c: RespConnection, args: Buffer[], w: RespWriter): void {
  let redirect: bigint | undefined;
  for (let j = 3; j < args.length; j++) {
    const opt = lower(args[j]);
    const more = j + 1 < args.length;
    if (opt === 'redirect' && more) {
      j++;
      if (redirect !== undefined) {
        w.error('ERR A client can only redirect to a single other client');
        return;
      }
      redirect = parseInt64(args[j]!.toString('latin1'));
      if (redirect === undefined) {
        w.error('ERR value is not an integer or out of range');
        return;
      }
      if (![...c.ctx.clients()].some((o) => BigInt(o.id) === redirect)) {
        w.error('ERR The client ID you want redirect to does not exist');
        return;
      }
    } else if (opt === 'prefix' && more) j++;
    else if (!TRACKING_OPTIONS.has(opt)) {
      w.error('ERR syntax error');
      return;
    }
  }
  const mode = lower(args[2]);
  if (mode === 'off') w.ok();
  else if (mode === 'on')
    w.error(
      'ERR CLIENT TRACKING ON is not supported by distkv: it sends no invalidation messages (TRACKING OFF is accepted; docs/resp.md)',
    );
  else w.error('ERR syntax error');
}
