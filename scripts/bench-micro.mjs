#!/usr/bin/env node
// Runs every mitata micro benchmark (dist/bench/micro/**/*.bench.js), each in its own process.
//   node scripts/bench-micro.mjs [filter]     e.g. "routing" runs only files whose path contains it
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const filter = process.argv[2] ?? '';
spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
const files = readdirSync('dist/bench/micro', { recursive: true })
  .filter((f) => f.endsWith('.bench.js') && f.includes(filter))
  .sort();
for (const f of files) {
  const r = spawnSync(process.execPath, [join('dist/bench/micro', f)], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
