#!/usr/bin/env node
// The test command: build (tsc also type-checks), lint, then the test tiers with node:test.
//   node scripts/test.mjs              build, lint, unit, integration, e2e, short robustness
//   node scripts/test.mjs unit         build and unit tests only
//   node scripts/test.mjs robustness   build and the full robustness suite (DISTKV_ROBUSTNESS=full)
// Unit files run three at a time, e2e files two (DISTKV_TEST_CONCURRENCY to change both): node:test's
// default on 2 cores is one file at a time, and most unit time is spent waiting on timers and child
// processes (the unit tier used 1.2 of 2 cores at two, 1.8 at four: 292 s → 215 s), while e2e
// files, which start servers, use the cores at two already (three was no faster in one run). Their ports come
// from test/helpers/ports.ts, picked for files run in parallel.
// Integration files name fixed member addresses and robustness files measure under load: one at a time.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const tier = process.argv[2];
const run = (cmd, args, env = {}) => {
  process.stdout.write(`\n$ ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) process.exit(r.status ?? 1);
};
const testFiles = (dir) => {
  const full = join('dist', 'test', dir);
  if (!existsSync(full)) return [];
  return readdirSync(full)
    .filter((f) => f.endsWith('.test.js'))
    .sort()
    .map((f) => join(full, f));
};

run('npx', ['tsc', '-p', 'tsconfig.json']);
const tiers = tier === undefined ? ['unit', 'integration', 'e2e', 'robustness'] : [tier];
if (tier === undefined) run('npm', ['run', '--silent', 'lint']);
for (const t of tiers) {
  const files = testFiles(t);
  if (files.length === 0) continue;
  const env = t === 'robustness' && tier === 'robustness' ? { DISTKV_ROBUSTNESS: 'full' } : {};
  const parallel = { unit: '3', e2e: '2' }[t];
  const concurrency = parallel === undefined ? '1' : (process.env.DISTKV_TEST_CONCURRENCY ?? parallel);
  run(
    process.execPath,
    ['--enable-source-maps', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
    env,
  );
}
