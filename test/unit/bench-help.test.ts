/**
 * Every benchmark answers `--help` with its header and starts nothing (bench/lib/args.ts): before,
 * `compare.js --help` ignored the flag and began a six-minute run of servers and load.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { headerOf } from '../../bench/lib/help-text.js';

const BENCH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench');

test('headerOf returns the first block comment without its comment marks', () => {
  const src =
    '#!/usr/bin/env node\n/**\n * What it does.\n *\n * Usage: x [--n 1]\n */\nconst a = 1; /* later */\n';
  assert.equal(headerOf(src), 'What it does.\n\nUsage: x [--n 1]');
  assert.equal(headerOf('const a = 1;\n'), undefined);
});

test('every benchmark script prints its header for --help and exits 0 at once', () => {
  const scripts = readdirSync(BENCH).filter((f) => f.endsWith('.js'));
  assert.ok(scripts.length >= 10, `benchmarks found: ${scripts.join(', ')}`);
  for (const s of scripts) {
    const r = spawnSync(process.execPath, [join(BENCH, s), '--help'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, `${s}: exit ${String(r.status)} ${r.stderr}`);
    // Its header and nothing else: no server started, no measurement printed.
    assert.equal(r.stdout, `${headerOf(readFileSync(join(BENCH, s), 'utf8'))}\n`, s);
    assert.match(r.stdout, /\S/, `${s}: printed nothing`);
  }
});
