/**
 * Command-line options of the benchmark scripts: `--name value`.
 *
 * `--help` (or `-h`) on any benchmark prints the block comment at the top of the running script
 * (what it measures, its options and its usage line) and exits before anything starts: each
 * script's header is its help text, so the two cannot drift apart. Importing this module is enough.
 */
import { readFileSync } from 'node:fs';

/** headerOf returns the text of the first block comment of a script, without its comment marks. */
export function headerOf(source: string): string | undefined {
  const m = /\/\*\*?([\s\S]*?)\*\//.exec(source);
  if (m === null) return undefined;
  return m[1]!
    .split('\n')
    .map((l) => l.replace(/^\s*\* ?/, ''))
    .join('\n')
    .trim();
}

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  const script = process.argv[1] ?? '';
  let help: string | undefined;
  try {
    help = headerOf(readFileSync(script, 'utf8'));
  } catch {
    help = undefined;
  }
  process.stdout.write(`${help ?? `${script}: no description`}\n`);
  process.exit(0);
}

/** arg returns the value after `--name`, or `fallback`. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

/** workload returns the first positional argument (the workload to run), or `fallback`. */
export function workload(fallback: string): string {
  const w = process.argv[2];
  return w !== undefined && !w.startsWith('--') ? w : fallback;
}
