/**
 * A benchmark whose tool is not installed says so in one line, naming the tool and its package,
 * and starts nothing (bench/lib/tools.ts): before, bench:watch threw a stack trace, bench:soak
 * started its distkv server and then died on `spawnSync wrk ENOENT` (the server left running),
 * bench:large-values died on a null stdout, bench:failover --etcd on an unhandled 'error' event of
 * the etcd spawn, and bench:resp on its import when getconf was missing too.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/temp-dir.js';

const BENCH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench');

test('a benchmark run without its tool on PATH names the tool and its package and exits 1', () => {
  // A PATH holding node alone: no wrk, redis-server, redis-benchmark, etcd (nor anything else).
  const bin = tempDir(after, 'distkv-bench-path-');
  symlinkSync(process.execPath, join(bin, 'node'));
  const cases: [string[], RegExp][] = [
    [
      ['watch-bench.js', '--seconds', '1', '--rounds', '1'],
      /needs wrk, not found on PATH \(wrk: Debian: apt-get install wrk\)/,
    ],
    [['soak.js', '--seconds', '1'], /needs wrk, not found on PATH/],
    [['large-values.js', '--seconds', '1', '--rounds', '1'], /needs wrk, not found on PATH/],
    [['http-bench.js', '--seconds', '1', '--rounds', '1'], /needs wrk, not found on PATH/],
    [
      ['resp-bench.js', '--requests', '1000', '--rounds', '1'],
      /needs redis-server and redis-benchmark, not found on PATH \(redis-server: Debian: apt-get install redis-server; redis-benchmark: Debian: apt-get install redis-tools\)/,
    ],
    [
      ['failover-bench.js', '--etcd', '--kills', '1'],
      /needs etcd, not found on PATH \(etcd: Debian: apt-get install etcd-server\); --etcd runs a private etcd/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = spawnSync(process.execPath, [join(BENCH, args[0]!), ...args.slice(1)], {
      encoding: 'utf8',
      env: { ...process.env, PATH: bin },
      timeout: 60_000,
    });
    const out = `${args.join(' ')}: exit ${String(r.status)} ${String(r.signal)}\n${r.stdout}${r.stderr}`;
    assert.equal(r.status, 1, out);
    assert.match(r.stderr, message, out);
    assert.doesNotMatch(r.stderr, /\n\s+at /, `a stack trace: ${out}`);
    assert.equal(r.stdout, '', `it measured or started something: ${out}`);
  }
});
