/**
 * `distkv` run from a checkout that is not built (no bundle/, scripts/bundle.mjs): one line saying
 * to build, and exit 2, a usage or file mistake (README, "Exit codes"). It exited 1, which the
 * README gives to a key not found or a cluster that refused: a script checking `distkv get` took
 * the missing build for that.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { tempDir } from '../helpers/temp-dir.js';

describe('distkv from a checkout without bundle/', () => {
  it('says to build, and exits 2', () => {
    const root = tempDir(after);
    mkdirSync(join(root, 'bin'));
    writeFileSync(join(root, 'package.json'), '{"type": "module"}\n');
    copyFileSync(join(process.cwd(), 'bin', 'distkv.js'), join(root, 'bin', 'distkv.js'));
    const r = spawnSync(process.execPath, [join(root, 'bin', 'distkv.js'), 'get', 'k'], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr, 'distkv: bundle/ is missing; run "npm run build" first\n');
    assert.equal(r.stdout, '');
  });
});
