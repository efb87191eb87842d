/**
 * A small command-line parser: `--name value`, `--name=value`, boolean `--flag`, repeatable
 * options, positional arguments (`-h` is --help only before the first of them). A later option
 * overrides an earlier one (so `npm start -- --config other.toml` wins over the script's own
 * `--config`).
 */
import { DistkvError, statusOf } from '../errors.js';
import { suggestion } from '../util/did-you-mean.js';

/** OptionSpec declares one option. */
export interface OptionSpec {
  /** type: "string" takes a value, "boolean" does not, "list" takes a value and may repeat. */
  type: 'string' | 'boolean' | 'list';
  help: string;
  /** valueName is shown in --help (e.g. "FILE"). */
  valueName?: string;
  /**
   * nonEmpty refuses an empty value (`--file=`, `--config ""`, an unset shell variable) as a
   * missing one, for options where "" names nothing: it used to travel on as a file called "" or a
   * shard called "", and come back as "cannot read : no such file or directory".
   */
  nonEmpty?: true;
}

/** ParsedArgs holds option values by name and the positional arguments. */
export interface ParsedArgs {
  options: Map<string, string | boolean | string[]>;
  positionals: string[];
}

/** UsageError is thrown for unknown options or missing values; the CLI prints it with the usage. */
export class UsageError extends Error {
  /** helps: pointing at the verb's --help helps (not for a limit a node refused, which --help cannot change). */
  readonly helps: boolean;
  constructor(message: string, helps = true) {
    super(message);
    this.name = 'UsageError';
    this.helps = helps;
  }
}

/** parseArgs parses argv against the option specs. */
export function parseArgs(argv: readonly string[], specs: Record<string, OptionSpec>): ParsedArgs {
  const options = new Map<string, string | boolean | string[]>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '--') {
      // -h asks for help only before any argument: after one it is an argument like "-5" is
      // (`distkv set flag -h` stores "-h"; it used to print the help and exit 0, storing nothing).
      if (arg === '-h' && positionals.length === 0) options.set('help', true);
      else positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const spec = specs[name];
    if (spec === undefined)
      throw new UsageError(
        `unknown option --${name}${suggestion(name, Object.keys(specs), (c) => `--${c}`)}`,
      );
    if (spec.type === 'boolean') {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      options.set(name, true);
      continue;
    }
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--'))
        throw new UsageError(`--${name} needs a value (${spec.valueName ?? 'VALUE'})`);
      value = next;
      i++;
    }
    if (value === '' && spec.nonEmpty === true)
      throw new UsageError(`--${name} needs a value (${spec.valueName ?? 'VALUE'}), got an empty one`);
    if (spec.type === 'list') {
      const prev = options.get(name);
      const items = value.split(',').filter((v) => v.trim() !== '');
      // An empty list (`--url ''`) is a mistake, not "use the default".
      if (items.length === 0) throw new UsageError(`--${name} needs a value (${spec.valueName ?? 'VALUE'})`);
      // So is an empty item (`--url a,,b`, `--url a,`): a list built from a variable that was empty.
      const empty = emptyItem(value);
      if (empty !== undefined)
        throw new UsageError(
          `--${name} ${JSON.stringify(value)}: item ${empty} is empty; give ${spec.valueName ?? 'VALUE'} items separated by commas`,
        );
      options.set(name, [...(Array.isArray(prev) ? prev : []), ...items]);
    } else options.set(name, value);
  }
  return { options, positionals };
}

/** emptyItem is the 1-based position of the first blank item of a comma-separated list, if any. */
export function emptyItem(list: string): number | undefined {
  const i = list.split(',').findIndex((v) => v.trim() === '');
  return i < 0 ? undefined : i + 1;
}

/** formatOptions renders the option specs for --help. */
export function formatOptions(specs: Record<string, OptionSpec>): string {
  const rows = Object.entries(specs).map(
    ([name, s]) => [`--${name}${s.type === 'boolean' ? '' : ` ${s.valueName ?? 'VALUE'}`}`, s.help] as const,
  );
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return rows.map(([l, h]) => `  ${l.padEnd(width)}${h}`).join('\n');
}

/** stringOption returns a string option or undefined. */
export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const v = args.options.get(name);
  return typeof v === 'string' ? v : undefined;
}

/** listOption returns a list option (empty when absent). */
export function listOption(args: ParsedArgs, name: string): string[] {
  const v = args.options.get(name);
  return Array.isArray(v) ? v : [];
}

/** intOption returns an integer option, or throws UsageError when it is not one. */
export function intOption(
  args: ParsedArgs,
  name: string,
  range?: { min: number; max: number; what: string },
): number | undefined {
  const v = stringOption(args, name);
  if (v === undefined) return undefined;
  // With a range, every refusal names it: "-5" and "99999999999999999999" fail the same bound.
  const bound = (): UsageError =>
    new UsageError(`--${name} must be an integer in ${range!.min}..${range!.max}${range!.what}, got "${v}"`);
  if (!/^\d+$/.test(v)) {
    if (range !== undefined) throw bound();
    throw new UsageError(`--${name} must be a non-negative integer, got "${v}"`);
  }
  const n = Number(v);
  if (range !== undefined && !(n >= range.min && n <= range.max)) throw bound();
  // Past 2^53 Number rounds: 99999999999999999 would travel (and be reported) as 1e17.
  if (!Number.isSafeInteger(n))
    throw new UsageError(`--${name} must be at most ${Number.MAX_SAFE_INTEGER}, got "${v}"`);
  return n;
}

/**
 * usageOnRefusal runs `work` and turns a node's 400 (INVALID_ARGUMENT, MISSING_KEY, ...) or a value
 * over its limit (VALUE_TOO_LARGE, 413) into a UsageError (exit 2), for verbs whose requests hold
 * nothing but their command line and files: a node (or a file check) refused what the user gave,
 * which is no runtime failure.
 */
export async function usageOnRefusal<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof DistkvError && statusOf(err.code) === 400)
      throw new UsageError(`${err.code}: ${err.message}`);
    if (err instanceof DistkvError && err.code === 'VALUE_TOO_LARGE')
      throw new UsageError(`${err.code}: ${err.message} (the nodes' max_value_bytes setting)`, false);
    throw err;
  }
}
