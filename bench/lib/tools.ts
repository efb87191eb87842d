/**
 * The outside tools a benchmark drives (wrk, redis-server, redis-benchmark, etcd), and how to get
 * each. A benchmark that cannot run without one calls `requireTools` at its top, before it starts
 * anything: a missing tool is then one line naming it and its package, not a stack trace from a
 * spawn half-way through the run with servers left behind.
 */
import { spawnSync } from 'node:child_process';
import { basename } from 'node:path';

/** TOOLS maps each tool to where it comes from. */
export const TOOLS = {
  wrk: 'Debian: apt-get install wrk',
  'redis-server': 'Debian: apt-get install redis-server',
  'redis-benchmark': 'Debian: apt-get install redis-tools',
  etcd: 'Debian: apt-get install etcd-server',
} as const;

/** Tool is the name of one of TOOLS. */
export type Tool = keyof typeof TOOLS;

/** hasTool reports whether `tool` runs from PATH. */
export function hasTool(tool: Tool): boolean {
  return spawnSync(tool, ['--version'], { stdio: 'ignore' }).error === undefined;
}

/** missingTools returns a message naming each of `tools` not on PATH and its package, or undefined. */
export function missingTools(tools: readonly Tool[]): string | undefined {
  const missing = tools.filter((t) => !hasTool(t));
  if (missing.length === 0) return undefined;
  return `needs ${missing.join(' and ')}, not found on PATH (${missing.map((t) => `${t}: ${TOOLS[t]}`).join('; ')})`;
}

/**
 * requireTools exits with code 1 and one line on stderr when one of `tools` is missing; `why`
 * says what needs them when only part of the benchmark does (and how to skip that part).
 */
export function requireTools(tools: readonly Tool[], why = ''): void {
  const message = missingTools(tools);
  if (message === undefined) return;
  process.stderr.write(
    `${basename(process.argv[1] ?? 'bench')}: ${message}${why === '' ? '' : `; ${why}`}\n`,
  );
  process.exit(1);
}
