/**
 * Command-line options of the benchmark scripts: `--name value`, `--flag`, and at most one leading
 * positional workload.
 *
 * `--help` (or `-h`) on any benchmark prints the block comment at the top of the running script
 * (what it measures, its options and its usage line) and exits before anything starts: each
 * script's header is its help text, so the two cannot drift apart. Importing this module is enough.
 *
 * The header is also the list of the script's options: an option it does not name (a typo such as
 * `--second 2`, or `--seconds=2`) is refused with exit code 2 before anything starts, never
 * ignored. The readers below refuse a missing value, a value that is not a number or under its
 * bound (`--seconds abc`, `--rounds 0`) and a value outside a fixed set (`--durability fsnyc`) the
 * same way: a benchmark never runs with NaN, for ever or with nothing to do. They are meant to be
 * called at the top of a script, before it starts any process. Importing this module also scopes
 * the run (bench/lib/run-scope.ts): its servers stop and its temp files go on Ctrl-C.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { headerOf, optionsOf, unknownOptions } from './help-text.js';
import './run-scope.js';

const SCRIPT = process.argv[1] ?? '';

function helpText(): string | undefined {
  try {
    return headerOf(readFileSync(SCRIPT, 'utf8'));
  } catch {
    return undefined;
  }
}

/** usageError prints `script: message` and a pointer to --help on stderr, and exits with code 2. */
export function usageError(message: string): never {
  process.stderr.write(`${basename(SCRIPT)}: ${message} (--help lists the options)\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(`${helpText() ?? `${SCRIPT}: no description`}\n`);
  process.exit(0);
}
{
  const help = helpText();
  if (help !== undefined) {
    const bad = unknownOptions(args, optionsOf(help));
    if (bad.length > 0) {
      const hint = bad.some((b) => b.includes('=')) ? ' (write `--name value`, not `--name=value`)' : '';
      usageError(`unknown option ${bad.join(', ')}${hint}`);
    }
  }
}

/** flag reports whether `--name` (an option without a value) was given. */
export function flag(name: string): boolean {
  return args.includes(`--${name}`);
}

/** arg returns the value after `--name`, or `fallback` when `--name` is not given. */
export function arg(name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = args[i + 1];
  if (v === undefined || (v.startsWith('--') && v.length > 2)) usageError(`--${name} needs a value`);
  return v;
}

function wholeOf(name: string, text: string, min: number, fallback: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min)
    usageError(`--${name} ${JSON.stringify(text)}: give a whole number ≥ ${min} (default ${fallback})`);
  return n;
}

/**
 * count returns `--name` as a whole number ≥ `min` (default 1), or `fallback` when it is not given
 * (`fallback` may stand for "not set", e.g. 0 under a `min` of 1); anything else is refused.
 */
export function count(name: string, fallback: number, min = 1): number {
  if (!args.includes(`--${name}`)) return fallback;
  return wholeOf(name, arg(name, ''), min, String(fallback));
}

/** counts returns `--name` as a comma-separated list of whole numbers ≥ `min`, or `fallback`'s. */
export function counts(name: string, fallback: string, min = 1): number[] {
  return arg(name, fallback)
    .split(',')
    .map((t) => wholeOf(name, t, min, fallback));
}

/** choice returns `--name` if it is one of `allowed`, or `fallback`; anything else is refused. */
export function choice<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
  const v = arg(name, fallback);
  if (!(allowed as readonly string[]).includes(v))
    usageError(`--${name} ${JSON.stringify(v)}: give one of ${allowed.join(', ')} (default ${fallback})`);
  return v as T;
}

/** choices returns `--name` as a comma-separated list of members of `allowed`, or `fallback`'s. */
export function choices<T extends string>(name: string, fallback: string, allowed: readonly T[]): T[] {
  const list = arg(name, fallback).split(',');
  const bad = list.filter((v) => !(allowed as readonly string[]).includes(v));
  if (bad.length > 0 || list.length === 0)
    usageError(
      `--${name} ${bad.join(',')}: give a comma-separated list of ${allowed.join(', ')} (default ${fallback})`,
    );
  return list as T[];
}

/** DURABILITIES are the values of `--durability` (the config's `storage.durability`). */
export const DURABILITIES = ['fsync', 'interval', 'none'] as const;

/**
 * workload returns the first positional argument (the workload to run), or `fallback`; with
 * `allowed`, a workload outside it is refused.
 */
export function workload(fallback: string, allowed?: readonly string[]): string {
  const w = args[0];
  const v = w !== undefined && !w.startsWith('-') ? w : fallback;
  if (allowed !== undefined && !allowed.includes(v))
    usageError(
      `unknown workload ${JSON.stringify(v)}: give one of ${allowed.join(', ')} (default ${fallback})`,
    );
  return v;
}
