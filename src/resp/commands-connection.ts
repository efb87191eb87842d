/**
 * Connection and handshake commands: what clients send when they connect (PING, ECHO, HELLO,
 * AUTH, SELECT, CONFIG GET, QUIT, RESET; CLIENT is commands-client.ts) and the cluster session flags (READONLY, READWRITE,
 * ASKING). AUTH checks the node token (`server.token`): while one is set, a connection must
 * authenticate (AUTH or HELLO ... AUTH) before any other command.
 */
import { timingSafeEqual } from 'node:crypto';
import type { RespConnection } from './resp-connection.js';
import type { RespWriter } from './resp-format.js';
import { globMatch } from './glob.js';
import { parseInt64 } from '../worker/read-modify-write.js';
import { PEER_CHECK_MS, PEER_TIMEOUT_MS } from '../server/peer-check.js';
import { unknownSubcommand } from './unknown-command.js';

/** SERVER_VERSION is the Redis version distkv reports (the command set it follows). */
export const SERVER_VERSION = '7.0.0';

const DEFAULT_USER = Buffer.from('default');
const WRONGPASS = 'WRONGPASS invalid username-password pair or user is disabled.';
/** BAD_NAME is Redis's error for a client name it refuses. */
export const BAD_NAME = 'ERR Client names cannot contain spaces, newlines or special characters.';

/** validName reports whether a client name is printable ASCII without blanks, as Redis requires. */
export function validName(name: string): boolean {
  return /^[\x21-\x7e]*$/.test(name);
}

/** lower is an argument's text in lower case ('' for none). */
export function lower(b: Buffer | undefined): string {
  return b === undefined ? '' : b.toString('latin1').toLowerCase();
}

function tokenMatches(c: RespConnection, given: Buffer): boolean {
  const token = Buffer.from(c.ctx.config.server.token);
  return token.length === given.length && timingSafeEqual(token, given);
}

/**
 * credentialsMatch reports whether `user` and `password` authenticate: the user `default` with the
 * token, or with any password while no token is set (Redis's `nopass` default user).
 */
function credentialsMatch(c: RespConnection, user: Buffer, password: Buffer): boolean {
  if (user.toString() !== 'default') return false;
  return c.ctx.config.server.token === '' || tokenMatches(c, password);
}

/** ping: PING [message]. */
export function ping(c: RespConnection, args: Buffer[]): void {
  const w = c.queue.now(c.proto);
  if (args.length > 2) w.error("ERR wrong number of arguments for 'ping' command");
  else if (args.length === 1) w.simple('PONG');
  else w.bulk(args[1]!);
}

/** echo: ECHO message. */
export function echo(c: RespConnection, args: Buffer[]): void {
  c.queue.now(c.proto).bulk(args[1]!);
}

/** quit: QUIT, answered OK; the connection closes after the replies before it. */
export function quit(c: RespConnection): void {
  c.queue.now(c.proto).ok();
  c.quit();
}

/**
 * reset: RESET, as Redis 6.2+ (`+RESET`): the connection's state back to a new connection's, for
 * the state a distkv connection has (resp-session.ts): a MULTI discarded, READWRITE, CLIENT REPLY
 * ON (before the reply, so `+RESET` is written after OFF; after SKIP it is the muted reply, as
 * redis-server 7.0 mutes it), RESP2, no name, and not authenticated while a
 * token is set (AUTH again, as Redis deauthenticates). SELECT, ASKING, TRACKING and subscriptions
 * keep no state here. The seqs WAIT waits for are kept, as Redis keeps the client's write offset.
 */
export function reset(c: RespConnection): void {
  c.inMulti = undefined;
  c.readonly = false;
  c.queue.replyModeAtReset();
  c.proto = 2;
  c.name = '';
  c.authenticated = c.ctx.config.server.token === '';
  c.queue.now(c.proto).simple('RESET');
}

/** auth: AUTH password | AUTH username password (the user is `default`). */
export function auth(c: RespConnection, args: Buffer[]): void {
  const w = c.queue.now(c.proto);
  if (args.length > 3) {
    w.error('ERR syntax error');
    return;
  }
  // As Redis: only the one-argument form is an error without a password; `AUTH default any`
  // succeeds then (a client configured with a user and password still connects).
  if (args.length === 2 && c.ctx.config.server.token === '') {
    w.error(
      'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
    );
    return;
  }
  const user = args.length === 3 ? args[1]! : DEFAULT_USER;
  if (!credentialsMatch(c, user, args[args.length - 1]!)) {
    w.error(WRONGPASS);
    return;
  }
  c.authenticated = true;
  w.ok();
}

/** hello: HELLO [protover [AUTH username password] [SETNAME clientname]]. */
export function hello(c: RespConnection, args: Buffer[]): void {
  let proto = c.proto;
  if (args.length > 1) {
    const v = parseInt64(args[1]!.toString('latin1'));
    if (v === undefined) {
      c.queue.now(c.proto).error('ERR Protocol version is not an integer or out of range');
      return;
    }
    if (v !== 2n && v !== 3n) {
      c.queue.now(c.proto).error('NOPROTO unsupported protocol version');
      return;
    }
    proto = v === 3n ? 3 : 2;
  }
  let name: string | undefined;
  for (let i = 2; i < args.length; i++) {
    const opt = lower(args[i]);
    if (opt === 'auth' && i + 2 < args.length) {
      if (!credentialsMatch(c, args[i + 1]!, args[i + 2]!)) {
        c.queue.now(c.proto).error(WRONGPASS);
        return;
      }
      c.authenticated = true;
      i += 2;
    } else if (opt === 'setname' && i + 1 < args.length) {
      name = args[++i]!.toString();
      if (!validName(name)) {
        c.queue.now(c.proto).error(BAD_NAME);
        return;
      }
    } else {
      c.queue.now(c.proto).error(`ERR Syntax error in HELLO option '${args[i]!.toString()}'`);
      return;
    }
  }
  if (!c.authenticated) {
    c.queue
      .now(c.proto)
      .error(
        'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
      );
    return;
  }
  if (name !== undefined) c.name = name;
  c.proto = proto;
  const leads = c.ctx.listener.writes.some((t) => t.local && t.role === 'leader');
  c.queue.now(proto).stringMap([
    ['server', 'redis'],
    ['version', SERVER_VERSION],
    ['proto', proto],
    ['id', c.id],
    ['mode', 'cluster'],
    ['role', leads ? 'master' : 'replica'],
    [
      'modules',
      (w) => {
        w.array(0);
      },
    ],
  ]);
}

/** select: SELECT 0 (distkv has one database, as Redis Cluster does). */
export function select(c: RespConnection, args: Buffer[]): void {
  const w = c.queue.now(c.proto);
  const db = parseInt64(args[1]!.toString('latin1'));
  if (db === undefined || db < -(2n ** 31n) || db >= 2n ** 31n)
    w.error('ERR value is not an integer or out of range');
  else if (db === 0n) w.ok();
  else w.error('ERR SELECT is not allowed in cluster mode');
}

/** readonly: READONLY; reads on this connection may then be served by this node's replicas. */
export function readonly(c: RespConnection): void {
  c.readonly = true;
  c.queue.now(c.proto).ok();
}

/** readwrite: READWRITE; reads go to the leaders again. */
export function readwrite(c: RespConnection): void {
  c.readonly = false;
  c.queue.now(c.proto).ok();
}

/** asking: ASKING (distkv never migrates slots between nodes, so it has no effect). */
export function asking(c: RespConnection): void {
  c.queue.now(c.proto).ok();
}

const CONFIG_HELP = [
  'CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'GET <pattern> [<pattern> ...] (the settings clients ask for; distkv is configured by its config file)',
  'SET <directive> <value> [<directive> <value> ...] (only to the value a setting has: settings are immutable)',
  'REWRITE (nothing to write: the config file holds every setting)',
  'HELP',
];

/** settingsOf lists the settings CONFIG GET reports, with their values, in Redis's names. */
function settingsOf(c: RespConnection): [string, string][] {
  const cfg = c.ctx.config;
  const appendfsync = { fsync: 'always', interval: 'everysec', none: 'no' }[cfg.storage.durability];
  return [
    ['save', ''],
    ['appendonly', cfg.storage.engine === 'memory' ? 'no' : 'yes'],
    ['appendfsync', appendfsync],
    ['databases', '1'],
    ['cluster-enabled', 'yes'],
    // The slots of a node down are reported failed; the others are still served (commands-cluster.ts).
    ['cluster-require-full-coverage', 'no'],
    // The longest a node is down before the others report it failed: a peer check every
    // PEER_CHECK_MS, each given PEER_TIMEOUT_MS (src/server/peer-check.ts). redis-cli --cluster
    // set-timeout sets this; it answered "Unknown option".
    ['cluster-node-timeout', String(PEER_CHECK_MS + PEER_TIMEOUT_MS)],
    ['maxmemory', '0'],
    // The limit in force: server.max_connections, or lower to fit the open-file limit
    // (open-file-limit.ts), as INFO's maxclients says; it said the configured number.
    ['maxclients', String(c.ctx.connections.max)],
    ['maxmemory-clients', String(cfg.server.max_unsent_bytes)],
    ['maxmemory-policy', 'noeviction'],
    ['proto-max-bulk-len', String(cfg.server.max_value_bytes)],
    ['requirepass', ''],
  ];
}

/**
 * config: CONFIG GET pattern [pattern ...] over the settings clients and redis-benchmark ask for;
 * CONFIG SET directive value [...] (configSet); CONFIG REWRITE; CONFIG HELP.
 */
export function config(c: RespConnection, args: Buffer[]): void {
  const w = c.queue.now(c.proto);
  const sub = lower(args[1]);
  if (sub === 'help') {
    if (args.length !== 2) w.error("ERR wrong number of arguments for 'config|help' command");
    else w.help(CONFIG_HELP);
    return;
  }
  if (sub === 'set') {
    configSet(w, settingsOf(c), args);
    return;
  }
  // Nothing to write: CONFIG SET only takes the value a setting has, which the config file holds.
  // redis-cli --cluster set-timeout sends it after CONFIG SET.
  if (sub === 'rewrite') {
    if (args.length !== 2) w.error("ERR wrong number of arguments for 'config|rewrite' command");
    else w.ok();
    return;
  }
  if (sub !== 'get') {
    w.errorBytes(unknownSubcommand(args[1]!, 'CONFIG'));
    return;
  }
  if (args.length < 3) {
    w.error("ERR wrong number of arguments for 'config|get' command");
    return;
  }
  const matched = settingsOf(c).filter(([name]) =>
    args.slice(2).some((p) => globMatch(p.toString('latin1').toLowerCase(), name)),
  );
  w.map(matched.length);
  for (const [k, v] of matched) {
    w.bulk(k);
    w.bulk(v);
  }
}

/**
 * configSet answers CONFIG SET directive value [directive value ...] with redis-server 7's
 * replies and checks, in its order (configSetCommand): fewer than one pair is the arity error, an
 * odd count a syntax error; then the first bad pair names the error: a directive CONFIG GET does
 * not report is `Unknown option or number of arguments for CONFIG SET - 'x'` (as Redis answers a
 * directive it does not know), one set twice is `duplicate parameter`, and one set to another
 * value than it has `can't set immutable config` (distkv takes its settings from its config file
 * at start; Redis answers this for its own immutable ones). A command that only sets settings to
 * the values they have (`CONFIG SET save ""`, as test harnesses send) answers OK and changes
 * nothing. It answered `-ERR unknown subcommand 'SET'` for all of these.
 */
function configSet(w: RespWriter, settings: [string, string][], args: Buffer[]): void {
  if (args.length < 4) {
    w.error("ERR wrong number of arguments for 'config|set' command");
    return;
  }
  if (args.length % 2 === 1) {
    w.error('ERR syntax error');
    return;
  }
  const seen = new Set<string>();
  for (let i = 2; i < args.length; i += 2) {
    const raw = args[i]!;
    const name = raw.toString('latin1').toLowerCase();
    const setting = settings.find(([n]) => n === name);
    let why: string | undefined;
    if (setting === undefined) {
      w.errorBytes(
        Buffer.concat([
          Buffer.from("ERR Unknown option or number of arguments for CONFIG SET - '"),
          raw,
          Buffer.from("'"),
        ]),
      );
      return;
    } else if (seen.has(name)) why = 'duplicate parameter';
    else if (args[i + 1]!.toString('latin1').toLowerCase() !== setting[1]) why = "can't set immutable config";
    seen.add(name);
    if (why !== undefined) {
      w.errorBytes(
        Buffer.concat([
          Buffer.from("ERR CONFIG SET failed (possibly related to argument '"),
          raw,
          Buffer.from(`') - ${why}`),
        ]),
      );
      return;
    }
  }
  w.ok();
}
