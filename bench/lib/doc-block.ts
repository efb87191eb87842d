/**
 * A benchmark's own block of docs/performance.md, between `<!-- bench:NAME start -->` and
 * `<!-- bench:NAME end -->`: a run replaces its block (or, given a heading, appends a section
 * holding it when the doc has none yet), then prettier aligns the tables as `npm run lint` expects.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './processes.js';

/** PERFORMANCE_DOC is the path of docs/performance.md. */
export const PERFORMANCE_DOC = join(ROOT, 'docs', 'performance.md');

/**
 * writeDocBlock puts `text` in the block `name` of docs/performance.md; returns false (writing
 * nothing) when the doc has no such block and no `heading` is given to start one.
 */
export function writeDocBlock(name: string, text: string, heading?: string): boolean {
  const start = `<!-- bench:${name} start -->`;
  const end = `<!-- bench:${name} end -->`;
  const doc = readFileSync(PERFORMANCE_DOC, 'utf8');
  const block = `${start}\n\n${text}\n\n${end}`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i >= 0 && j > i) writeFileSync(PERFORMANCE_DOC, doc.slice(0, i) + block + doc.slice(j + end.length));
  else if (heading !== undefined)
    writeFileSync(PERFORMANCE_DOC, `${doc.trimEnd()}\n\n## ${heading}\n\n${block}\n`);
  else return false;
  spawnSync('npx', ['prettier', '--write', PERFORMANCE_DOC], { cwd: ROOT, stdio: 'ignore' });
  return true;
}
