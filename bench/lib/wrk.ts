/**
 * Running wrk (Debian's package) and reading its output.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './processes.js';

/** WrkResult is what a wrk run reports. */
export interface WrkResult {
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
}

function ms(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

/** hasWrk reports whether wrk is installed. */
export function hasWrk(): boolean {
  return spawnSync('wrk', ['--version']).error === undefined;
}

/** runWrk runs `wrk -t1 -c<conns> -d<seconds>s --latency -s bench/wrk/<script> <url>`. */
export function runWrk(
  url: string,
  script: string,
  seconds: number,
  conns = 50,
  env: NodeJS.ProcessEnv = {},
): WrkResult {
  const r = spawnSync(
    'wrk',
    ['-t1', `-c${conns}`, `-d${seconds}s`, '--latency', '-s', join(ROOT, 'bench', 'wrk', script), url],
    {
      encoding: 'utf8',
      env: { ...process.env, ...env },
      timeout: (seconds + 30) * 1000,
    },
  );
  const out = r.stdout;
  const pct = (p: string): number => ms(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out)?.[1] ?? '');
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    p50Ms: pct('50'),
    p90Ms: pct('90'),
    p99Ms: pct('99'),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    errors: errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}
