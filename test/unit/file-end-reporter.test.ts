/**
 * scripts/file-end-reporter.mjs, run by `npm test` beside the spec reporter: a test file whose
 * process dies without a failing test showed in CI's summary only as "'test failed'" (a unit file
 * ended so, and nothing in the log's tail said how). The reporter names how it ended and its last lines.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/temp-dir.js';

const REPORTER = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'scripts',
  'file-end-reporter.mjs',
);

/** runFiles runs node:test on the given files with only the file-end reporter and returns its output. */
function runFiles(files: Record<string, string>): string {
  const dir = tempDir(after);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const r = spawnSync(
    process.execPath,
    ['--test', `--test-reporter=${REPORTER}`, '--test-reporter-destination=stdout', ...Object.keys(files)],
    // Without NODE_TEST_CONTEXT, set for this file's own process, or node:test runs no files in it.
    { cwd: dir, encoding: 'utf8', timeout: 30_000, env: { ...process.env, NODE_TEST_CONTEXT: undefined } },
  );
  assert.equal(r.status, 1, r.stderr);
  return r.stdout;
}

test('names the signal or exit code of a file that died without a failing test, with its last lines', () => {
  const out = runFiles({
    'killed.test.mjs': `import { it } from 'node:test';
it('dies', () => { console.error('opening the store'); process.kill(process.pid, 'SIGKILL'); return new Promise(() => {}); });`,
    'exits.test.mjs': `import { it } from 'node:test';
it('exits', () => { process.exit(3); });`,
    'fails.test.mjs': `import { it } from 'node:test';
it('fails', () => { throw new Error('an ordinary failure'); });`,
  });
  assert.match(out, /killed\.test\.mjs: its process ended \(killed by SIGKILL\) with no failing test/);
  assert.match(out, /\| opening the store/);
  assert.match(out, /exits\.test\.mjs: its process ended \(exit code 3\) with no failing test/);
  assert.doesNotMatch(
    out,
    /fails\.test\.mjs: its process ended/,
    'a file with a failing test is spec`s to report',
  );
});
