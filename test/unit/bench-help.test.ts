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

/** optionDefaults lists the options a script reads with a literal default, as [name, default]. */
function optionDefaults(source: string): [string, string][] {
  const calls = source.matchAll(
    /(?<![.\w])(?:count|counts|arg|choice|choices)\(\s*'([a-z0-9-]+)',\s*(?:'([^']+)'|(\d[\d_]*))\s*[,)]/g,
  );
  return [...calls].map((m) => [m[1]!, (m[2] ?? m[3]!).replaceAll('_', '')]);
}

test('every option a benchmark reads with a default shows that default in its --help', () => {
  const missing: string[] = [];
  for (const f of readdirSync(join(BENCH, '..', '..', 'bench')).filter((n) => n.endsWith('.ts'))) {
    const source = readFileSync(join(BENCH, '..', '..', 'bench', f), 'utf8');
    const lines = (headerOf(source) ?? '').split('\n');
    for (const [name, value] of optionDefaults(source)) {
      if (value === '0') continue; // 0 stands for "not set" (e.g. --max-minutes: the planned time)
      const mention = new RegExp(`--${name}(?![\\w-])`);
      const at = lines.flatMap((l, i) => (mention.test(l) ? [i] : []));
      if (at.length > 0 && at.every((i) => lines[i]!.includes('Internal:'))) continue;
      const near = at.flatMap((i) => [lines[i]!, lines[i + 1] ?? '']).join('\n');
      const shown =
        near.includes(`--${name} ${value}`) ||
        near.includes(`--${name} "${value}"`) ||
        new RegExp(`default:? ${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?!\\w|\\.\\w)`).test(near);
      if (!shown) missing.push(`${f}: --${name} ${value}`);
    }
  }
  assert.deepEqual(missing, []);
});

test('a benchmark with an npm script names it in its --help, and one that writes docs/performance.md names the command that does', () => {
  const root = join(BENCH, '..', '..');
  const scripts = (
    JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts;
  const npmNames = new Map<string, string>();
  for (const [name, cmd] of Object.entries(scripts)) {
    const m = /^node scripts\/bench-run\.mjs ([\w/-]+)$/.exec(cmd);
    if (m !== null) npmNames.set(m[1]!, name);
  }
  const problems: string[] = [];
  for (const [script, name] of npmNames) {
    const source = readFileSync(join(root, 'bench', `${script}.ts`), 'utf8');
    const help = headerOf(source) ?? '';
    if (!help.includes(`npm run ${name}`)) problems.push(`${script}: does not name npm run ${name}`);
    if (
      source.includes('writeDocBlock(') &&
      !(help.includes('--doc') && help.includes('docs/performance.md'))
    )
      problems.push(`${script}: writes docs/performance.md but its help does not say with which option`);
  }
  for (const f of readdirSync(join(root, 'bench')).filter((n) => n.endsWith('.ts'))) {
    if (
      readFileSync(join(root, 'bench', f), 'utf8').includes('writeDocBlock(') &&
      !npmNames.has(f.slice(0, -3))
    )
      problems.push(`${f}: writes docs/performance.md without an npm script`);
  }
  assert.deepEqual(problems, []);
});
