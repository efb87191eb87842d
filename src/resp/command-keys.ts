/**
 * COMMAND GETKEYS and COMMAND LIST FILTERBY, answered from the command table's key positions and
 * groups as redis-server 7.0 answers them (getKeysSubcommandImpl, commandListCommand): cluster
 * clients ask GETKEYS for the keys of a command they cannot place themselves. Both answered
 * `-ERR unknown subcommand` before, and LIST ignored its filter.
 */
import { arityFits, type CommandSpec } from './command-spec.js';
import { globMatch } from './glob.js';
import type { RespWriter } from './resp-format.js';

/**
 * getKeys answers COMMAND GETKEYS name arg...: `args` is the whole command, `cmd` what `args[2]`
 * names (undefined: not a command here). Redis's order of checks: at least one argument after
 * the name, a known command, one with keys, its arity; then the keys at its positions.
 */
export function getKeys(w: RespWriter, cmd: CommandSpec | undefined, args: readonly Buffer[]): void {
  const n = args.length - 2;
  if (n < 2) w.error("ERR wrong number of arguments for 'command|getkeys' command");
  else if (cmd === undefined) w.error('ERR Invalid command specified');
  else if (cmd.name === 'memory' && args[3]!.toString('latin1').toLowerCase() === 'usage') {
    // MEMORY USAGE key: Redis 7 takes its key from the subcommand's key specs (memory|usage, arity -3).
    if (n < 3) w.error('ERR Invalid number of arguments specified for command');
    else {
      w.array(1);
      w.bulk(args[4]!);
    }
  } else if (cmd.firstKey === 0) w.error('ERR The command has no key arguments');
  else if (!arityFits(cmd, n)) w.error('ERR Invalid number of arguments specified for command');
  else {
    const last = Math.min(cmd.lastKey < 0 ? n + cmd.lastKey : cmd.lastKey, n - 1);
    const keys: Buffer[] = [];
    for (let i = cmd.firstKey; i <= last; i += cmd.step) keys.push(args[2 + i]!);
    w.array(keys.length);
    for (const k of keys) w.bulk(k);
  }
}

/**
 * listCommands answers COMMAND LIST [FILTERBY MODULE m | ACLCAT c | PATTERN p]: a filter other
 * than these three, or not followed by exactly its argument, is a syntax error. No command here
 * comes from a module; ACLCAT matches a command's ACL categories (COMMAND INFO's: its own, else
 * `@group`); PATTERN is a glob over the name, without regard to case. As Redis, each command is
 * followed by its subcommands (`client|kill`), filtered alike.
 */
export function listCommands(w: RespWriter, commands: readonly CommandSpec[], args: readonly Buffer[]): void {
  let keep: (cmd: CommandSpec) => boolean = () => true;
  if (args.length > 2) {
    const type = args[3]?.toString('latin1').toLowerCase();
    const arg = args[4]?.toString('latin1').toLowerCase() ?? '';
    if (args.length !== 5 || args[2]!.toString('latin1').toLowerCase() !== 'filterby' || type === undefined) {
      w.error('ERR syntax error');
      return;
    }
    if (type === 'module') keep = () => false;
    else if (type === 'aclcat') keep = (cmd) => (cmd.categories ?? [`@${cmd.group}`]).includes(`@${arg}`);
    else if (type === 'pattern') keep = (cmd) => globMatch(arg, cmd.name);
    else {
      w.error('ERR syntax error');
      return;
    }
  }
  const names = commands
    .flatMap((cmd) => [cmd, ...(cmd.subcommands ?? [])])
    .filter(keep)
    .map((cmd) => cmd.name);
  w.array(names.length);
  for (const name of names) w.bulk(name);
}
