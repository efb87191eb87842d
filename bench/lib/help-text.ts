/**
 * A benchmark's help text and the options it names: each script's first block comment is its
 * `--help`, and the `--options` that comment names are the only ones the script accepts
 * (bench/lib/args.ts). No effects on import: tests read scripts' headers through this module.
 */

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

/** optionsOf returns the option names (`--name`, without the dashes) a help text mentions. */
export function optionsOf(help: string): Set<string> {
  return new Set([...help.matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => m[1]!));
}

/**
 * unknownOptions returns the `--options` of `argv` (the arguments after the script) that `known`
 * does not hold, as written. A value is never an option: `-1` after `--seconds` is its value.
 */
export function unknownOptions(argv: readonly string[], known: ReadonlySet<string>): string[] {
  return argv.filter((a) => a.startsWith('--') && !known.has(a.slice(2)));
}
