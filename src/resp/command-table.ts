/**
 * The RESP command table: every command distkv answers, with Redis's arity, flags and key
 * positions (what COMMAND, COMMAND INFO, COMMAND DOCS and COMMAND COUNT report, and what cluster
 * clients use to find a command's keys), and the function that runs it; and COMMAND, which
 * describes the table. Dispatch (the checks before a command runs): command-dispatch.ts.
 */
import type { RespConnection } from './resp-connection.js';
import type { RespWriter } from './resp-format.js';
import * as conn from './commands-connection.js';
import { CLIENT_SUBCOMMANDS, client } from './commands-client.js';
import * as keyspace from './commands-keyspace.js';
import { info } from './commands-info.js';
import * as strings from './commands-strings.js';
import * as expiry from './commands-expiry.js';
import { wait } from './commands-wait.js';
import { cluster } from './commands-cluster.js';
import { ALL_KEYS, type CommandSpec, NO_KEYS, ONE_KEY, spec } from './command-spec.js';
import { getKeys, listCommands } from './command-keys.js';
import { COMPAT_COMMANDS } from './command-table-compat.js';
import { unknownSubcommand } from './unknown-command.js';

export type { CommandSpec } from './command-spec.js';

/** COMMANDS lists every command distkv answers: the first set, then COMPAT_COMMANDS. */
export const COMMANDS: readonly CommandSpec[] = [
  spec('ping', -1, 'fast', NO_KEYS, 'connection', "Returns the server's liveliness response.", conn.ping),
  spec('echo', 2, 'fast', NO_KEYS, 'connection', 'Returns the given string.', conn.echo),
  spec(
    'hello',
    -1,
    'noscript loading stale fast no_auth',
    NO_KEYS,
    'connection',
    'Handshakes with the server.',
    conn.hello,
    true,
  ),
  spec(
    'auth',
    -2,
    'noscript loading stale fast no_auth',
    NO_KEYS,
    'connection',
    'Authenticates the connection.',
    conn.auth,
    true,
  ),
  spec(
    'quit',
    -1,
    'noscript loading stale fast no_auth',
    NO_KEYS,
    'connection',
    'Closes the connection.',
    conn.quit,
    true,
  ),
  spec(
    'select',
    2,
    'loading stale fast',
    NO_KEYS,
    'connection',
    'Changes the selected database (only 0).',
    conn.select,
  ),
  {
    ...spec('client', -2, '', NO_KEYS, 'connection', 'A container for client connection commands.', client),
    categories: ['@slow'],
    subcommands: CLIENT_SUBCOMMANDS,
  },
  spec(
    'readonly',
    1,
    'loading stale fast',
    NO_KEYS,
    'cluster',
    'Enables read-only queries to replicas for the connection.',
    conn.readonly,
  ),
  spec(
    'readwrite',
    1,
    'loading stale fast',
    NO_KEYS,
    'cluster',
    'Sends reads to the leaders again.',
    conn.readwrite,
  ),
  spec(
    'asking',
    1,
    'fast',
    NO_KEYS,
    'cluster',
    'Signals that a cluster client is following an -ASK redirect.',
    conn.asking,
  ),
  spec(
    'config',
    -2,
    'admin noscript loading stale',
    NO_KEYS,
    'server',
    'CONFIG GET: reads configuration parameters; CONFIG SET only to the values they have.',
    conn.config,
  ),
  spec(
    'command',
    -1,
    'loading stale',
    NO_KEYS,
    'server',
    'Returns detailed information about all commands.',
    command,
  ),
  spec(
    'info',
    -1,
    'loading stale',
    NO_KEYS,
    'server',
    'Returns information and statistics about the server.',
    info,
  ),
  spec(
    'dbsize',
    1,
    'readonly fast',
    NO_KEYS,
    'server',
    'Returns the number of keys this node serves.',
    keyspace.dbsize,
  ),
  spec('scan', -2, 'readonly', NO_KEYS, 'generic', 'Iterates over the keys this node serves.', keyspace.scan),
  spec(
    'wait',
    3,
    'noscript',
    NO_KEYS,
    'generic',
    "Waits until replicas acknowledge this connection's writes.",
    wait,
  ),
  spec('cluster', -2, '', NO_KEYS, 'cluster', 'CLUSTER SLOTS, SHARDS, NODES, INFO, MYID, KEYSLOT.', cluster),
  spec('get', 2, 'readonly fast', ONE_KEY, 'string', 'Returns the string value of a key.', strings.get),
  spec(
    'set',
    -3,
    'write denyoom',
    ONE_KEY,
    'string',
    'Sets the string value of a key (NX, XX, GET, EX, PX, EXAT, PXAT, KEEPTTL).',
    strings.set,
  ),
  spec(
    'strlen',
    2,
    'readonly fast',
    ONE_KEY,
    'string',
    'Returns the length of a string value.',
    strings.strlen,
  ),
  spec(
    'type',
    2,
    'readonly fast',
    ONE_KEY,
    'generic',
    'Determines the type of value stored at a key.',
    strings.type,
  ),
  spec('del', -2, 'write', ALL_KEYS, 'generic', 'Deletes one or more keys.', strings.del),
  spec(
    'ttl',
    2,
    'readonly fast',
    ONE_KEY,
    'generic',
    'Returns the seconds until a key expires.',
    expiry.ttl(1000),
  ),
  spec(
    'pttl',
    2,
    'readonly fast',
    ONE_KEY,
    'generic',
    'Returns the milliseconds until a key expires.',
    expiry.ttl(1),
  ),
  spec(
    'expire',
    -3,
    'write fast',
    ONE_KEY,
    'generic',
    "Sets a key's time to live in seconds (NX, XX, GT, LT).",
    expiry.expire(1000),
  ),
  spec(
    'pexpire',
    -3,
    'write fast',
    ONE_KEY,
    'generic',
    "Sets a key's time to live in milliseconds (NX, XX, GT, LT).",
    expiry.expire(1),
  ),
  spec('persist', 2, 'write fast', ONE_KEY, 'generic', "Removes a key's expiry.", expiry.persist),
  spec(
    'exists',
    -2,
    'readonly fast',
    ALL_KEYS,
    'generic',
    'Determines whether one or more keys exist.',
    strings.exists,
  ),
  spec(
    'mget',
    -2,
    'readonly fast',
    ALL_KEYS,
    'string',
    'Atomically returns the string values of one or more keys.',
    strings.mget,
  ),
  spec(
    'mset',
    -3,
    'write denyoom',
    [1, -1, 2],
    'string',
    'Sets the string values of one or more keys.',
    strings.mset,
  ),
  spec(
    'incr',
    2,
    'write denyoom fast',
    ONE_KEY,
    'string',
    'Increments the integer value of a key by one.',
    strings.incrBy(1, false),
  ),
  spec(
    'decr',
    2,
    'write denyoom fast',
    ONE_KEY,
    'string',
    'Decrements the integer value of a key by one.',
    strings.incrBy(-1, false),
  ),
  spec(
    'incrby',
    3,
    'write denyoom fast',
    ONE_KEY,
    'string',
    'Increments the integer value of a key by a number.',
    strings.incrBy(1, true),
  ),
  spec(
    'decrby',
    3,
    'write denyoom fast',
    ONE_KEY,
    'string',
    'Decrements a number from the integer value of a key.',
    strings.incrBy(-1, true),
  ),
  ...COMPAT_COMMANDS,
];

/** BY_NAME finds a command by its name as sent, in lower or upper case (other cases are lowered first). */
const BY_NAME = new Map<string, CommandSpec>();
for (const [i, c] of COMMANDS.entries()) {
  BY_NAME.set(c.name, c);
  BY_NAME.set(c.name.toUpperCase(), c);
  c.index = i;
}

/** UNKNOWN_INDEX is the place in RespStats.calls of commands of an unknown name. */
export const UNKNOWN_INDEX = COMMANDS.length;

/** COMMAND_NAMES names the places of RespStats.calls: every command's, then `unknown`. */
export const COMMAND_NAMES: readonly string[] = [...COMMANDS.map((c) => c.name), 'unknown'];

/** lookup returns the command named `name` (any case). */
export function lookup(name: string): CommandSpec | undefined {
  return BY_NAME.get(name) ?? BY_NAME.get(name.toLowerCase());
}

/** lookupFull returns the command or subcommand of full name `name` (`client|kill`, any case), as COMMAND INFO and DOCS take them. */
function lookupFull(name: string): CommandSpec | undefined {
  const bar = name.indexOf('|');
  if (bar < 0) return lookup(name);
  const full = name.toLowerCase();
  return lookup(name.slice(0, bar))?.subcommands?.find((s) => s.name === full);
}

function writeInfo(w: RespWriter, cmd: CommandSpec): void {
  w.array(10);
  w.bulk(cmd.name);
  w.integer(cmd.arity);
  // As Redis 7 in RESP3: flags, ACL categories and tips are sets; key specs and subcommands below.
  w.set(cmd.flags.length);
  for (const f of cmd.flags) w.simple(f);
  w.integer(cmd.firstKey);
  w.integer(cmd.lastKey);
  w.integer(cmd.step);
  const categories = cmd.categories ?? [`@${cmd.group}`];
  w.set(categories.length);
  for (const c of categories) w.simple(c);
  const tips = cmd.tips ?? [];
  w.set(tips.length);
  for (const t of tips) w.bulk(t);
  // Key specs: none is an empty set, as Redis writes it for a command without keys (it writes an
  // array of specs for one with keys, which distkv leaves empty).
  if (cmd.firstKey === 0) w.set(0);
  else w.array(0);
  // As Redis: no subcommands is an empty set, subcommands an array.
  const subs = cmd.subcommands ?? [];
  if (subs.length === 0) w.set(0);
  else w.array(subs.length);
  for (const sub of subs) writeInfo(w, sub);
}

function writeDocs(w: RespWriter, cmd: CommandSpec): void {
  w.bulk(cmd.name);
  const subs = cmd.subcommands;
  w.stringMap([
    ['summary', cmd.summary],
    ['since', '1.0.0'],
    ['group', cmd.group],
    ...(subs === undefined
      ? []
      : [
          [
            'subcommands',
            (m: RespWriter) => {
              m.map(subs.length);
              for (const sub of subs) writeDocs(m, sub);
            },
          ] as const,
        ]),
  ]);
}

const COMMAND_HELP = [
  'COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  '(no subcommand), COUNT, LIST [FILTERBY (MODULE <m>|ACLCAT <c>|PATTERN <p>)], INFO [<command-name> ...], DOCS [<command-name> ...], GETKEYS <command> [<arg> ...], HELP',
];

/** command: COMMAND, COMMAND COUNT, COMMAND INFO name..., COMMAND DOCS [name...], COMMAND LIST [FILTERBY ...], COMMAND GETKEYS. */
function command(c: RespConnection, args: Buffer[]): void {
  const w = c.queue.now(c.proto);
  const sub = args[1]?.toString('latin1').toLowerCase();
  const named = args.slice(2).map((a) => lookupFull(a.toString('latin1')));
  switch (sub) {
    case undefined:
      w.array(COMMANDS.length);
      for (const cmd of COMMANDS) writeInfo(w, cmd);
      return;
    case 'count':
      if (args.length !== 2) w.error("ERR wrong number of arguments for 'command|count' command");
      else w.integer(COMMANDS.length);
      return;
    case 'list':
      listCommands(w, COMMANDS, args);
      return;
    case 'getkeys':
      getKeys(w, args[2] === undefined ? undefined : lookup(args[2].toString('latin1')), args);
      return;
    case 'info': {
      // As Redis 7: COMMAND INFO without names describes every command.
      const infos = args.length === 2 ? COMMANDS : named;
      w.array(infos.length);
      for (const cmd of infos) {
        if (cmd === undefined)
          w.nil(); // Redis 7's addReplyNull: `$-1` (`*-1` was Redis 6's)
        else writeInfo(w, cmd);
      }
      return;
    }
    case 'docs': {
      const docs = args.length === 2 ? COMMANDS : named.filter((x) => x !== undefined);
      w.map(docs.length);
      for (const cmd of docs) writeDocs(w, cmd);
      return;
    }
    case 'help':
      if (args.length !== 2) w.error("ERR wrong number of arguments for 'command|help' command");
      else w.help(COMMAND_HELP);
      return;
    default:
      w.errorBytes(unknownSubcommand(args[1]!, 'COMMAND'));
  }
}
