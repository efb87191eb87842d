#!/usr/bin/env node
// The test command: build (tsc also type-checks; then the bundle bin/distkv.js runs, scripts/bundle.mjs),
// lint, then the test tiers with node:test.
//   node scripts/test.mjs              build, lint, unit, integration, e2e, short robustness
//   node scripts/test.mjs unit         build and unit tests only
//   node scripts/test.mjs robustness   build and the full robustness suite (DISTKV_ROBUSTNESS=full)
//   node scripts/test.mjs unit integration robustness   build and those tiers as `npm test` runs them
// Unit and e2e files run three at a time (DISTKV_TEST_CONCURRENCY to change both): node:test's
// default on 2 cores is one file at a time, and most unit time is spent waiting on timers and child
// processes (the unit tier used 1.2 of 2 cores at two, 1.8 at four: 292 s → 215 s). The e2e tier is
// close to CPU-bound: session 72 measured each of its 247 files alone, 1936 s of CPU for 2394 s of
// wall (a floor of 968 s on 2 cores); at two files at a time it took 1206 s (1.6 cores busy), at
// three 1056 s. Their ports come from test/helpers/ports.ts, picked for files run in parallel.
// Integration files name fixed member addresses and robustness files measure under load: one at a time;
// both tiers run beside the unit tier (runBeside below), then the e2e tier runs alone.
// The e2e files listed in SLOW_FIRST (each 15-33 s alone) start first, the rest follow alphabetically:
// in alphabetical order a long file near the end (watch-silent-node, 29 s) ran alone on one core.
// Session 69 (wall s of `node --enable-source-maps --test dist/test/<tier>/F.test.js`, twice before and
// after, on 2 shared cores): integration/etcd-start-tries 28.9 → 15-16 (its three failing-try cases side
// by side); e2e watch-silent-node 29.2/29.2 → 24.4/24.3, upgrade-65-fork-zero-compacted 17.9/22.3 →
// 10.7/14.1, replica-foreign-history-compacted 33.6/22.6 → 14.1/18.1 (writes 8 at a time). What is
// left is mostly production bounds the tests cannot set: STREAM_SILENCE_MS (20 s), `distkv cluster`'s
// PEER_ASK_MS (5 s), the start steps' 10 tries of 1-4 s, CONTACT_GRACE_MS (3 s).
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** named: the tiers asked for on the command line (none: every tier, after the lint). */
const named = process.argv.slice(2);
const TIERS = ['unit', 'integration', 'e2e', 'robustness'];
for (const t of named)
  if (!TIERS.includes(t)) {
    process.stderr.write(`test.mjs: unknown tier "${t}" (the tiers: ${TIERS.join(', ')})\n`);
    process.exit(2);
  }
const run = (cmd, args, env = {}) => {
  process.stdout.write(`\n$ ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
/** FILE_END_REPORTER says, after the summary, how a file whose process died without a failing test ended. */
const FILE_END_REPORTER = fileURLToPath(new URL('file-end-reporter.mjs', import.meta.url));
/** SLOW_FIRST names the longest e2e files, longest first (wall s alone, one run on 2 shared cores). */
const SLOW_FIRST = [
  'etcd-fast-restart-order', // 33
  'cluster-replica-health', // 28
  'failover-etcd', // 26
  'watch-silent-node', // 24
  'failover', // 22
  'lock-lease', // 22
  'failover-etcd-paused-writes', // 19
  'bank-failover', // 17
  'etcd-cold-restart-forced', // 16
  'upgrade-65-fork-zero-compacted', // 12
].map((name) => `${name}.test.js`);
const testFiles = (dir) => {
  const full = join('dist', 'test', dir);
  if (!existsSync(full)) return [];
  const names = readdirSync(full).filter((f) => f.endsWith('.test.js'));
  const first = dir === 'e2e' ? SLOW_FIRST.filter((f) => names.includes(f)) : [];
  const rest = names.filter((f) => !first.includes(f)).sort();
  return [...first, ...rest].map((f) => join(full, f));
};

run('npx', ['tsc', '-p', 'tsconfig.json']);
run('node', ['scripts/bundle.mjs']);
if (named.length === 0) run('npm', ['run', '--silent', 'lint']);

/** tierCommand is the node:test command line of tier `t`, and its environment, or undefined when it has no files. */
const tierCommand = (t) => {
  const files = testFiles(t);
  if (files.length === 0) return undefined;
  const env = t === 'robustness' && named.length === 1 ? { DISTKV_ROBUSTNESS: 'full' } : {};
  const parallel = { unit: '3', e2e: '3' }[t];
  const concurrency = parallel === undefined ? '1' : (process.env.DISTKV_TEST_CONCURRENCY ?? parallel);
  const args = [
    '--enable-source-maps',
    '--test',
    `--test-concurrency=${concurrency}`,
    ...['--test-reporter=spec', '--test-reporter-destination=stdout'],
    ...[`--test-reporter=${FILE_END_REPORTER}`, '--test-reporter-destination=stdout'],
    ...files,
  ];
  return { args, env };
};

/**
 * runBeside runs tier `first` with its output on ours and the tiers `beside` at the same time, their
 * output kept in files and printed once all ended (a CI log reads one tier after the other), then
 * exits as `run` does if any failed. The integration and short robustness tiers wait on etcd
 * leases, timers and child processes more than they compute (alone, one file at a time: 143 s of
 * wall for 60 s of CPU, and 139 s for 92 s), and the unit tier, three files at a time, uses 1.4 of
 * the 2 cores: beside it their time is spared. Their ports cannot meet: integration files name fixed
 * member addresses below 10000, every other test takes its ports from test/helpers/ports.ts, at
 * 10000 and above, reserved machine-wide.
 */
const runBeside = async (first, beside) => {
  const dir = mkdtempSync(join(tmpdir(), 'distkv-test-tier-'));
  const ended = (child) =>
    new Promise((resolve) =>
      child.on('close', (code, signal) => resolve(code ?? (signal === null ? 1 : 128))),
    );
  const others = beside.flatMap((t) => {
    const command = tierCommand(t);
    if (command === undefined) return [];
    const logPath = join(dir, `${t}.log`);
    const fd = openSync(logPath, 'w');
    process.stdout.write(
      `\n$ ${process.execPath} ${command.args.join(' ')} (beside the ${first} tier; its output follows)\n`,
    );
    const child = spawn(process.execPath, command.args, {
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...command.env },
    });
    return [{ t, fd, logPath, end: ended(child) }];
  });
  let firstStatus = 0;
  const f = tierCommand(first);
  if (f !== undefined) {
    process.stdout.write(`\n$ ${process.execPath} ${f.args.join(' ')}\n`);
    firstStatus = await ended(
      spawn(process.execPath, f.args, { stdio: 'inherit', env: { ...process.env, ...f.env } }),
    );
  }
  const statuses = [firstStatus];
  for (const { t, fd, logPath, end } of others) {
    statuses.push(await end);
    closeSync(fd);
    process.stdout.write(
      `\n# the ${t} tier, run beside the ${first} tier:\n${readFileSync(logPath, 'utf8')}`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
  const failed = statuses.find((s) => s !== 0);
  if (failed !== undefined) process.exit(failed);
};

/** BESIDE_UNIT: the tiers that run beside the unit tier when it runs (runBeside). */
const BESIDE_UNIT = ['integration', 'robustness'];
const tiers = named.length === 0 ? TIERS : named;
const besideUnit = tiers.includes('unit') ? tiers.filter((t) => BESIDE_UNIT.includes(t)) : [];
for (const t of tiers) {
  if (besideUnit.includes(t)) continue;
  if (t === 'unit' && besideUnit.length > 0) await runBeside('unit', besideUnit);
  else {
    const command = tierCommand(t);
    if (command !== undefined) run(process.execPath, command.args, command.env);
  }
}
