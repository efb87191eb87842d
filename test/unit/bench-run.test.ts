/**
 * `npm run bench:NAME -- --help` answers at once (scripts/bench-run.mjs): before, every bench:*
 * script was `npm run build --silent && node dist/bench/X.js`, so asking for the usage waited for a
 * whole tsc build (8 s with nothing to compile, tens of seconds otherwise) and, on a tree that did
 * not build, printed compiler errors instead of the usage. A run still builds first.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { headerOf } from '../../bench/lib/help-text.js';
import { tempDir } from '../helpers/temp-dir.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): Ran {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0 };
}

test('npm run bench:cas -- --help prints its header in under 3 s, without a build', () => {
  const header = headerOf(readFileSync(join(ROOT, 'dist', 'bench', 'cas-bench.js'), 'utf8'));
  for (const flag of ['--help', '-h']) {
    const r = run('npm', ['run', '--silent', 'bench:cas', '--', flag], ROOT);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${String(header)}\n`);
    // tsc with nothing to compile takes 8 s on these machines: under 3 s, none ran.
    assert.ok(r.ms < 3000, `${flag} took ${r.ms.toFixed(0)} ms`);
  }
});

test('every npm bench:* script but bench:micro goes through the runner (which builds before a run)', () => {
  const scripts = (
    JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts;
  for (const [name, cmd] of Object.entries(scripts)) {
    if (!name.startsWith('bench:') || name === 'bench:micro') continue;
    const m = /^node scripts\/bench-run\.mjs ([\w/-]+)$/.exec(cmd);
    assert.ok(m !== null, `${name}: ${cmd}`);
    assert.ok(existsSync(join(ROOT, 'bench', `${m[1]!}.ts`)), `${name}: no bench/${m[1]!}.ts`);
  }
});

/**
 * A checkout in miniature: the runner, a benchmark `bench/x.ts` and a `build` script that copies it
 * to `dist/bench/x.js`, counts its runs in `builds` and fails when FAIL_BUILD is set.
 */
function tinyCheckout(): string {
  const dir = tempDir(after, 'distkv-bench-run-');
  mkdirSync(join(dir, 'scripts'));
  mkdirSync(join(dir, 'bench'));
  copyFileSync(join(ROOT, 'scripts', 'bench-run.mjs'), join(dir, 'scripts', 'bench-run.mjs'));
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'tiny', type: 'module', scripts: { build: 'node build.mjs' } }),
  );
  writeFileSync(
    join(dir, 'build.mjs'),
    [
      "import { appendFileSync, copyFileSync, mkdirSync } from 'node:fs';",
      "appendFileSync('builds', 'x');",
      "if (process.env.FAIL_BUILD) { console.error('bench/x.ts(1,1): error TS1005'); process.exit(2); }",
      "mkdirSync('dist/bench', { recursive: true });",
      "copyFileSync('bench/x.ts', 'dist/bench/x.js');",
    ].join('\n'),
  );
  writeBench(dir, 'one');
  return dir;
}

/** writeBench writes bench/x.ts: its header names `version`; it prints it for --help, else its argv. */
function writeBench(dir: string, version: string): void {
  writeFileSync(
    join(dir, 'bench', 'x.ts'),
    [
      `/**\n * Bench x, version ${version}.\n */`,
      "if (process.argv.includes('--help') || process.argv.includes('-h')) { console.log('help ' + " +
        JSON.stringify(version) +
        '); process.exit(0); }',
      'console.log(JSON.stringify(process.argv.slice(1)));',
      "process.exitCode = process.argv.includes('--fail') ? 3 : 0;",
    ].join('\n'),
  );
}

const builds = (dir: string): number =>
  existsSync(join(dir, 'builds')) ? readFileSync(join(dir, 'builds'), 'utf8').length : 0;

test('--help builds only when dist lacks the script or its header is not the source one', () => {
  const dir = tinyCheckout();
  const help = (env: Record<string, string> = {}) =>
    run(process.execPath, ['scripts/bench-run.mjs', 'x', '--help'], dir, env);
  let r = help();
  assert.equal(r.stdout, 'help one\n', r.stderr);
  assert.equal(builds(dir), 1, 'no dist yet: built first');
  r = help();
  assert.equal(r.stdout, 'help one\n', r.stderr);
  assert.equal(builds(dir), 1, 'dist up to date: answered without a build');
  writeBench(dir, 'two');
  r = help();
  assert.equal(r.stdout, 'help two\n', r.stderr);
  assert.equal(builds(dir), 2, 'the source header changed: built first');
});

test("--help on a tree that does not build prints the last build's help with a note, or says why not", () => {
  const dir = tinyCheckout();
  run(process.execPath, ['scripts/bench-run.mjs', 'x', '--help'], dir);
  writeBench(dir, 'two');
  let r = run(process.execPath, ['scripts/bench-run.mjs', 'x', '-h'], dir, { FAIL_BUILD: '1' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'help one\n');
  assert.match(r.stderr, /TS1005/);
  assert.match(r.stderr, /the build failed; the help below is the last build's \(x\.js\)/);
  const fresh = tinyCheckout();
  r = run(process.execPath, ['scripts/bench-run.mjs', 'x', '--help'], fresh, { FAIL_BUILD: '1' });
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /bench-run: the build \(npm run build\) failed: fix it and run again/);
});

test("a run builds, then runs the script with its own path and the arguments; its exit code is the run's", () => {
  const dir = tinyCheckout();
  run(process.execPath, ['scripts/bench-run.mjs', 'x', '--help'], dir);
  let r = run(process.execPath, ['scripts/bench-run.mjs', 'x', '--rounds', '2'], dir);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [join(dir, 'dist', 'bench', 'x.js'), '--rounds', '2']);
  assert.equal(builds(dir), 2, 'a run builds even when dist is up to date');
  r = run(process.execPath, ['scripts/bench-run.mjs', 'x', '--fail'], dir);
  assert.equal(r.status, 3, r.stderr);
  r = run(process.execPath, ['scripts/bench-run.mjs', 'x', '--rounds', '2'], dir, { FAIL_BUILD: '1' });
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.equal(r.stdout, '', 'a run on a tree that does not build measured something');
});

test('the runner refuses a missing or unknown script name with exit code 2', () => {
  const dir = tinyCheckout();
  let r = run(process.execPath, ['scripts/bench-run.mjs'], dir);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /usage: node scripts\/bench-run\.mjs SCRIPT/);
  r = run(process.execPath, ['scripts/bench-run.mjs', 'nope', '--help'], dir);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /no benchmark bench\/nope\.ts \(nor dist\/bench\/nope\.js\)/);
  assert.equal(builds(dir), 0, 'built for a script that is not there');
});
