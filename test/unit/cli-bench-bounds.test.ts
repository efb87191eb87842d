/**
 * `distkv bench`'s numeric options have upper bounds, each named when refused (exit 2, before any
 * load), as --value-size's is (cli-bench-value-size.test.ts): --concurrency 10001 opened ten
 * thousand and one connections, --warmup 99999 warmed up for more than a day, --duration past
 * 2^31 ms ended at once (Node's timers fire at once beyond it), --keys past 2^32 left keys no
 * chooser reaches. The target is a port nothing listens on: a refusal sends nothing. Each run is
 * cut after 60 s (the old code ran the load instead of refusing it).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { freePorts } from '../helpers/ports.js';
import { BIN, REPO_ROOT } from '../helpers/server-process.js';

/** benchWith runs `distkv bench` with `option value` against `url`, cut after 60 s. */
function benchWith(url: string, option: string, value: string): { code: number | null; stderr: string } {
  const r = spawnSync(
    process.execPath,
    [BIN, 'bench', '--url', url, '--keys', '1', '--requests', '1', '--no-preload', `--${option}`, value],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, DISTKV_TOKEN: '', DISTKV_URL: '' },
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  return { code: r.status, stderr: r.stderr };
}

const CASES: [option: string, values: string[], bound: string][] = [
  ['concurrency', ['10001', '99999999999'], 'an integer in 1\\.\\.10000 \\(connections\\)'],
  ['threads', ['1025'], 'an integer in 1\\.\\.1024 \\(load threads\\)'],
  ['keys', ['4294967297'], 'an integer in 1\\.\\.4294967296 \\(keys: the choosers draw 32-bit numbers\\)'],
  ['duration', ['86401', '1e10', 'Infinity'], 'a number in 0\\.\\.86400 seconds \\(a day\\)'],
  ['warmup', ['86400.5', '99999', '-1', ''], 'a number in 0\\.\\.86400 seconds \\(a day\\)'],
  ['rate', ['10000001'], 'a number in 0\\.\\.10000000 operations per second'],
];

describe('distkv bench option bounds', () => {
  it('refuses a value over each bound with exit 2, naming the bound', async () => {
    const [port] = await freePorts(1);
    for (const [option, values, bound] of CASES)
      for (const value of values) {
        const r = benchWith(`127.0.0.1:${port!}`, option, value);
        assert.equal(r.code, 2, `--${option} ${value}: ${r.stderr}`);
        assert.match(
          r.stderr,
          new RegExp(`^distkv bench: --${option} must be ${bound}, got ${JSON.stringify(value)}\\n`),
        );
      }
  });
});
