/**
 * reasonOf (src/util/fs-reason.ts): a file system failure in words. Known codes read from the
 * table; a code without words keeps the system's description from Node's message, without the
 * path the caller names itself (it printed the bare code, `ELOOP`, where the TLS files' check
 * printed Node's message before it used reasonOf); anything else is given as it is.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { reasonOf } from '../../src/util/fs-reason.js';

/** failure is what `f` throws. */
function failure(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  assert.fail('it did not throw');
}

describe('reasonOf', () => {
  it('words a known code', () => {
    assert.equal(
      reasonOf(failure(() => readFileSync(join(tmpdir(), 'distkv-no-such-file')))),
      'no such file or directory',
    );
  });

  it("keeps the system's description of a code without words, not the path", () => {
    const dir = mkdtempSync(join(tmpdir(), 'distkv-fs-reason-'));
    try {
      const loop = join(dir, 'loop');
      symlinkSync(loop, loop);
      assert.equal(
        reasonOf(failure(() => readFileSync(loop))),
        'too many symbolic links encountered (ELOOP)',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives a code without a message, and a message without a code, as they are', () => {
    assert.equal(reasonOf({ code: 'EWEIRD' }), 'EWEIRD');
    assert.equal(reasonOf(Object.assign(new Error('EWEIRD: odd'), { code: 'EWEIRD' })), 'odd (EWEIRD)');
    assert.equal(reasonOf(new Error('plain')), 'plain');
  });
});
