/**
 * Running redis-benchmark (Debian's redis-tools) for one test and reading its CSV output. Its runs
 * are bounded by a request count, not a duration: callers size `requests` from a measured rate.
 */
import { spawnSync } from 'node:child_process';

/** RedisBenchResult is one redis-benchmark test's figures. */
export interface RedisBenchResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
}

/** RedisBenchOptions are redis-benchmark's flags for one test. */
export interface RedisBenchOptions {
  /** test: redis-benchmark's -t (set, get). */
  test: string;
  connections: number;
  pipeline: number;
  valueSize: number;
  /** keyspace: -r, random keys in [0, keyspace). */
  keyspace: number;
  requests: number;
  /** timeoutMs: the run is killed after this (a hung target cannot stall the caller). */
  timeoutMs: number;
}

/** hasRedisBenchmark reports whether redis-benchmark is installed. */
export function hasRedisBenchmark(): boolean {
  return spawnSync('redis-benchmark', ['--version']).error === undefined;
}

/** runRedisBenchmark runs one test against 127.0.0.1:port and returns its throughput and latency. */
export function runRedisBenchmark(port: number, o: RedisBenchOptions): RedisBenchResult {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-t', o.test, '-c', String(o.connections)];
  args.push('-P', String(o.pipeline), '-d', String(o.valueSize), '-r', String(o.keyspace));
  args.push('-n', String(o.requests), '--csv');
  const r = spawnSync('redis-benchmark', args, { encoding: 'utf8', timeout: o.timeoutMs });
  if (r.status !== 0) throw new Error(`redis-benchmark ${args.join(' ')} failed: ${r.stderr}`);
  return parseRedisBenchCsv(r.stdout, o.test);
}

/**
 * parseRedisBenchCsv reads redis-benchmark's --csv output (a header line
 * `"test","rps","avg_latency_ms",...,"p50_latency_ms",...,"p99_latency_ms",...` then one line per
 * test) and returns the line of `test` (case-insensitive; a SET test is named "SET").
 */
export function parseRedisBenchCsv(csv: string, test: string): RedisBenchResult {
  const lines = csv
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const cells = (l: string): string[] => l.split(',').map((c) => c.replace(/^"|"$/g, ''));
  const header = cells(lines.find((l) => l.startsWith('"test"')) ?? '');
  const row = lines.map(cells).find((c) => c[0]?.toUpperCase() === test.toUpperCase());
  if (row === undefined) throw new Error(`redis-benchmark output has no ${test} line:\n${csv}`);
  const col = (name: string, fallback: number): number => {
    const i = header.indexOf(name);
    return Number(row[i >= 0 ? i : fallback] ?? NaN);
  };
  return { rps: col('rps', 1), p50Ms: col('p50_latency_ms', -1), p99Ms: col('p99_latency_ms', -1) };
}
