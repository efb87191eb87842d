/**
 * The benchmarks refuse a bad command line before they start anything (bench/lib/args.ts): before,
 * an unknown option (`--second 2`) was ignored and a full default run began, a value that was not a
 * number (`--seconds abc`) ran as NaN (bench:cas measured "NaN s per workload" and wrote its zeros
 * into docs/performance.md), and a misspelt workload (`bench:store write`) ran nothing and exited 0.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as args from '../../bench/lib/help-text.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BENCH = join(ROOT, 'dist', 'bench');

/** run runs a compiled benchmark with `args`; a refused command line answers at once. */
function run(script: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [join(BENCH, script), ...args], { encoding: 'utf8', timeout: 20_000 });
}

test('optionsOf reads the --options a help text names; unknownOptions keeps the others', () => {
  const { optionsOf, unknownOptions } = args;
  const known = optionsOf('Usage: x [--seconds 10] [--rounds 3]\n`--inline` runs inline; --no-write');
  assert.deepEqual([...known].sort(), ['inline', 'no-write', 'rounds', 'seconds']);
  assert.deepEqual(unknownOptions(['--seconds', '-1', '--second', '2', '--rounds=2', 'all'], known), [
    '--second',
    '--rounds=2',
  ]);
});

test('a bad option or value is refused with exit code 2 and a message naming it, before anything runs', () => {
  const cases: [string[], RegExp][] = [
    [['--rounds', 'abc'], /--rounds "abc": give a whole number ≥ 1 \(default 5\)/],
    [['--rounds', '-1'], /--rounds "-1": give a whole number ≥ 1/],
    [['--rounds', '0'], /--rounds "0": give a whole number ≥ 1/],
    [['--rounds', '1.5'], /--rounds "1.5": give a whole number ≥ 1/],
    [['--rounds'], /--rounds needs a value/],
    [['--rounds', '--writes', '10'], /--rounds needs a value/],
    [['--round', '2'], /unknown option --round\b/],
    [['--rounds=2'], /unknown option --rounds=2 \(write `--name value`/],
  ];
  for (const [args, message] of cases) {
    const r = run('memtable-writes.js', args);
    assert.equal(r.status, 2, `${args.join(' ')}: exit ${String(r.status)}\n${r.stdout}${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.match(r.stderr, /--help lists the options/, args.join(' '));
    assert.equal(r.stdout, '', `${args.join(' ')}: measured something`);
  }
});

test('a workload or a choice outside its set is refused; the set is named', () => {
  const store = run('store-suite.js', ['write']);
  assert.equal(store.status, 2, store.stdout + store.stderr);
  assert.match(store.stderr, /unknown workload "write": give one of all, writes, reads/);
  const http = run('http-bench.js', ['--durability', 'fsnyc']);
  assert.equal(http.status, 2, http.stdout + http.stderr);
  assert.match(http.stderr, /--durability "fsnyc": give one of fsync, interval, none/);
  const compare = run('compare.js', ['--rows', 'nope']);
  assert.equal(compare.status, 2, compare.stdout + compare.stderr);
  assert.match(compare.stderr, /--rows: unknown row or group "nope"/);
  // Before, these took any value: `--command del` counted GETs, `--read copies` copied.
  for (const [script, args, message] of [
    ['resp-read-count.js', ['--command', 'del'], /--command "del": give one of get, set/],
    ['resp-read-count.js', ['--read', 'copies'], /--read "copies": give one of copy, transient/],
    ['resp-path-count.js', ['--command', 'del'], /--command "del": give one of get, set/],
    ['resp-reply-count.js', ['--order', 'store'], /--order "store": give one of stores, inline/],
  ] as const) {
    const r = run(script, [...args]);
    assert.equal(r.status, 2, `${script} ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test('every npm bench script refuses an option it does not have', () => {
  const scripts = (
    JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts;
  const files = Object.entries(scripts)
    .filter(([name]) => name.startsWith('bench:'))
    .flatMap(([, cmd]) => [...(/node scripts\/bench-run\.mjs ([\w/-]+)$/.exec(cmd)?.slice(1) ?? [])])
    .map((name) => `${name}.js`);
  assert.ok(files.length >= 15, `bench scripts found: ${files.join(', ')}`);
  assert.ok(files.includes('baseline/server.js'), 'bench:baseline is checked too');
  for (const f of files) {
    const r = run(f, ['--no-such-option', '1']);
    assert.equal(r.status, 2, `${f}: exit ${String(r.status)}\n${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /unknown option --no-such-option/, f);
  }
});

test('the baseline servers answer --help with their header and refuse a bad --port, starting nothing', () => {
  for (const f of ['baseline/server.js', 'baseline/resp-server.js']) {
    const help = run(f, ['--help']);
    assert.equal(help.status, 0, `${f}: ${help.stderr}`);
    assert.match(help.stdout, /Usage: node dist\/bench\/baseline\//, f);
    const bad = run(f, ['--port', 'abc']);
    assert.equal(bad.status, 2, `${f}: exit ${String(bad.status)}\n${bad.stdout}${bad.stderr}`);
    assert.match(bad.stderr, /--port "abc": give a whole number/, f);
  }
});

test('every option a benchmark reads is named in its header (its --help), so none is refused or hidden', () => {
  const src = join(ROOT, 'bench');
  const missing: string[] = [];
  for (const f of readdirSync(src).filter((n) => n.endsWith('.ts'))) {
    const text = readFileSync(join(src, f), 'utf8');
    const known = args.optionsOf(args.headerOf(text) ?? '');
    const read = [
      ...text.matchAll(/(?<![.\w])(?:arg|argText|count|counts|choice|choices|flag)\('([a-z0-9-]+)'/g),
      ...text.matchAll(/argv\.includes\('--([a-z0-9-]+)'\)/g),
      ...text.matchAll(/argv\[\d\] === '--([a-z0-9-]+)'/g),
    ].map((m) => m[1]!);
    for (const name of new Set(read)) if (!known.has(name)) missing.push(`${f}: --${name}`);
  }
  assert.deepEqual(missing, []);
});
