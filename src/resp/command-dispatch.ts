/**
 * The RESP dispatcher: runs one command of a connection through the command table
 * (command-table.ts), or holds it while a CLIENT PAUSE holds it (client-pause.ts).
 *
 * Dispatch checks, in Redis's order and wording: unknown command, wrong number of arguments,
 * authentication (`NOAUTH`) when a token is set; then, while the node starts (its stores are
 * opening), the commands without Redis's `loading` flag get `-LOADING`, as from a redis-server
 * loading its dataset (`runsWhileLoading`); then, while the node drains, commands on keys get
 * `-TRYAGAIN`. Redis sends the keys of other nodes' slots `-MOVED` before it looks at loading;
 * distkv answers them `-LOADING` too: until it has asked its peers, its live map may be stale.
 *
 * GET and SET, the bulk of any workload, are found without a string of their name (`commandOf`),
 * and the parser's GET/SET fast path (`dispatchGetSet`) runs them without an argument array.
 */
import type { RespConnection } from './resp-connection.js';
import { getKey, setKey } from './commands-strings.js';
import { arityFits, type CommandSpec } from './command-spec.js';
import { lookup, UNKNOWN_INDEX } from './command-table.js';
import { PAUSE_MODE } from './client-pause.js';
import { commandFullName } from './client-list.js';
import { GET_NAME, SET_NAME } from './resp-parser.js';
import { unknownCommand } from './unknown-command.js';
import { inTransaction, transactionCommand } from './commands-transaction.js';

const GET = lookup('get')!;
const SET = lookup('set')!;

/**
 * commandOf finds the command named by the bytes `name`. GET and SET, the bulk of any workload, are
 * the parser's shared names (GET_NAME, SET_NAME), or are recognised from their bytes (any case,
 * inline commands) without making a string of the name.
 */
function commandOf(name: Buffer): CommandSpec | undefined {
  if (name === GET_NAME) return GET;
  if (name === SET_NAME) return SET;
  if (name.length === 3 && (name[1]! | 0x20) === 0x65 && (name[2]! | 0x20) === 0x74) {
    const first = name[0]! | 0x20;
    if (first === 0x67) return GET;
    if (first === 0x73) return SET;
  }
  return lookup(name.toString('latin1'));
}

/** LOADING_ERROR is Redis's reply to a command it does not run while it loads its dataset, word for word. */
export const LOADING_ERROR = 'LOADING Redis is loading the dataset in memory';

/**
 * runsWhileLoading tells whether `cmd` (with `args`) runs while the node starts: it has Redis's
 * `loading` flag, or for a container (CLIENT) the subcommand named has it; an unknown subcommand
 * runs, to answer its own error as Redis does.
 */
export function runsWhileLoading(cmd: CommandSpec, args: readonly Buffer[]): boolean {
  const subs = cmd.subcommands;
  if (subs !== undefined && args.length > 1) {
    const full = `${cmd.name}|${args[1]!.toString('latin1').toLowerCase()}`;
    const sub = subs.find((s) => s.name === full);
    return sub === undefined || sub.flags.includes('loading');
  }
  return cmd.flags.includes('loading');
}

/** dispatch runs one command on a connection, or holds it while a CLIENT PAUSE holds it (client-pause.ts). */
export function dispatch(c: RespConnection, args: Buffer[]): void {
  const pause = c.ctx.pause;
  // While the node drains nothing is held: the connection ends once every command read is answered.
  if (pause.mode !== PAUSE_MODE.off && !c.ctx.draining()) {
    const held = commandOf(args[0]!);
    if (pause.holds(c, held, args)) {
      // CLIENT LIST shows the held command as `cmd`, as Redis does for a postponed one.
      if (held !== undefined) c.lastCommand = commandFullName(held.name, args);
      c.hold(args);
      return;
    }
  }
  if (c.inMulti !== undefined && inTransaction(c, args)) return;
  const cmd = commandOf(args[0]!);
  const calls = c.ctx.stats.calls;
  if (cmd === undefined) {
    if (!transactionCommand(c, args)) {
      calls[UNKNOWN_INDEX]!++;
      c.queue.now(c.proto).errorBytes(unknownCommand(args));
    }
    return;
  }
  calls[cmd.index]!++;
  c.lastCommand = commandFullName(cmd.name, args);
  if (!arityFits(cmd, args.length)) {
    c.queue.now(c.proto).error(`ERR wrong number of arguments for '${cmd.name}' command`);
    return;
  }
  if (!c.authenticated && cmd.noAuth !== true) {
    c.queue.now(c.proto).error('NOAUTH Authentication required.');
    return;
  }
  if (c.ctx.loading?.() === true && !runsWhileLoading(cmd, args)) {
    c.queue.now(c.proto).error(LOADING_ERROR);
    return;
  }
  if (cmd.firstKey > 0 && c.ctx.draining()) {
    c.queue.now(c.proto).error('TRYAGAIN the node is shutting down');
    return;
  }
  cmd.run(c, args);
}

/**
 * dispatchGetSet runs a GET (`value` undefined) or a SET of a key and a value only that the parser
 * recognised by its framing (resp-parser.ts `OnGetSet`), through the functions `get` and `set`
 * run, with the checks of `dispatch` that can apply (authentication is left to the general path by
 * the parser): it returns false, without running it, while the node starts or drains, the
 * connection is inside MULTI or a CLIENT PAUSE is set, for `dispatch` to give the `-LOADING` or
 * `-TRYAGAIN`, refuse it or hold it.
 */
export function dispatchGetSet(c: RespConnection, key: Uint8Array, value: Uint8Array | undefined): boolean {
  const ctx = c.ctx;
  if (
    ctx.draining() ||
    ctx.loading?.() === true ||
    c.inMulti !== undefined ||
    ctx.pause.mode !== PAUSE_MODE.off
  )
    return false;
  if (value === undefined) {
    c.lastCommand = 'get';
    ctx.stats.calls[GET.index]!++;
    getKey(c, key);
  } else {
    c.lastCommand = 'set';
    ctx.stats.calls[SET.index]!++;
    setKey(c, key, value);
  }
  return true;
}
