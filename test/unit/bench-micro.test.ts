/**
 * `npm run bench:micro` answers --help at once and refuses options (scripts/bench-micro.mjs):
 * before, `--help` was taken for a filter, so the run built the checkout, matched no file and
 * exited 0 having printed nothing; `-- --seconds 2` did the same.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function micro(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [join(ROOT, 'scripts', 'bench-micro.mjs'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
}

test('bench:micro --help prints its usage and exits 0 without building or running anything', () => {
  for (const flag of ['--help', '-h']) {
    const r = micro([flag]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Usage: npm run bench:micro \[-- FILTER\]/);
    assert.match(r.stdout, /FILTER \(default: all\)/);
  }
});

test('bench:micro refuses an option or a second filter with exit 2, before building', () => {
  const opt = micro(['--seconds', '2']);
  assert.equal(opt.status, 2, opt.stdout + opt.stderr);
  assert.match(opt.stderr, /unknown option --seconds: the only argument is a filter/);
  const two = micro(['routing', 'storage']);
  assert.equal(two.status, 2, two.stdout + two.stderr);
  assert.match(two.stderr, /one filter at most, got 2/);
});
