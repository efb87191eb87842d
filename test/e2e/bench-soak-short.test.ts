/**
 * A short bench:soak measures the RSS it reports (bench/soak.ts): before, a run under 10 s took no
 * sample (they came every 10 s) and printed "max RSS -Infinity MB (bound 918 MB): within".
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { hasTool } from '../../bench/lib/tools.js';

const BENCH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench');

test(
  'bench:soak --seconds 2 reports the RSS it sampled at the end of the load',
  {
    skip: hasTool('wrk') ? false : 'wrk not found on PATH (Debian: apt-get install wrk)',
  },
  () => {
    const r = spawnSync(process.execPath, [join(BENCH, 'soak.js'), '--seconds', '2'], {
      encoding: 'utf8',
      timeout: 90_000,
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^t=\d+s rss=\d+ MB$/m, r.stdout);
    const max = /^max RSS (\S+) MB \(bound \d+ MB\): (within|OVER)/m.exec(r.stdout);
    assert.ok(max !== null, r.stdout);
    assert.ok(Number(max[1]) > 0, `max RSS ${max[1]}`);
  },
);
