/**
 * Command-line options of the benchmark scripts: `--name value`.
 */

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
