#!/usr/bin/env node
// The test command: build (tsc also type-checks), lint, then the test tiers with node:test.
//   node scripts/test.mjs              build, lint, unit, integration, e2e, short robustness
//   node scripts/test.mjs unit         build and unit tests only
//   node scripts/test.mjs robustness   build and the full robustness suite (DISTKV_ROBUSTNESS=full)
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
  run(process.execPath, ['--enable-source-maps', '--test', '--test-reporter=spec', ...files], env);
}
