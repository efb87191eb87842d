/**
 * CommandSpec: how the RESP command table (command-table.ts) describes a command: Redis's arity,
 * flags and key positions (what COMMAND reports and cluster clients use to find a command's keys),
 * its group and summary (COMMAND DOCS), and the function that runs it.
 */
import type { RespConnection } from './resp-connection.js';

/** Handler runs one command on a connection. */
export type Handler = (c: RespConnection, args: Buffer[]) => void;

/** CommandSpec describes one command. */
export interface CommandSpec {
  name: string;
  /** arity counts the command name; negative = at least that many. */
  arity: number;
  flags: readonly string[];
  firstKey: number;
  lastKey: number;
  step: number;
  group: string;
  summary: string;
  /** categories are its ACL categories for COMMAND INFO; absent, `@group`. */
  categories?: readonly string[];
  /** tips are its COMMAND INFO tips (`nondeterministic_output`). */
  tips?: readonly string[];
  /** subcommands are a container's subcommands (`client|kill`), for COMMAND INFO and DOCS. */
  subcommands?: readonly CommandSpec[];
  /** noAuth commands run before AUTH. */
  noAuth?: boolean;
  run: Handler;
  /** index is the command's place in the command table (its counter in RespStats.calls). */
  index: number;
}

/** spec builds a CommandSpec; `flags` are space-separated. */
export const spec = (
  name: string,
  arity: number,
  flags: string,
  keys: KeyPositions,
  group: string,
  summary: string,
  run: Handler,
  noAuth = false,
): CommandSpec => ({
  name,
  arity,
  flags: flags === '' ? [] : flags.split(' '),
  firstKey: keys[0],
  lastKey: keys[1],
  step: keys[2],
  group,
  summary,
  run,
  index: -1,
  ...(noAuth ? { noAuth } : {}),
});

/** KeyPositions are a command's [first key, last key (negative: from the end), step], as COMMAND reports them. */
export type KeyPositions = readonly [number, number, number];

/** NO_KEYS, ONE_KEY, ALL_KEYS are the usual key positions: none, the first argument, every argument. */
export const NO_KEYS: KeyPositions = [0, 0, 0];
export const ONE_KEY: KeyPositions = [1, 1, 1];
export const ALL_KEYS: KeyPositions = [1, -1, 1];

/** arityFits reports whether a command of `count` words (its name included) has `cmd`'s arity. */
export function arityFits(cmd: CommandSpec, count: number): boolean {
  return cmd.arity > 0 ? count === cmd.arity : count >= -cmd.arity;
}
