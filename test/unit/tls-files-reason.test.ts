/**
 * A `[server]` TLS file that cannot be read is reported in the plain words of src/util/fs-reason.ts,
 * as every other file distkv names. Before, readTlsFiles printed Node's raw message ("ENOENT: no such
 * file or directory, open '/x/none.pem'"), which repeats the path and leads with the errno code.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readTlsFiles } from '../../src/config/tls-files.js';
import { ConfigError } from '../../src/errors.js';

/** problemsOf returns the problems readTlsFiles reports for `server`. */
function problemsOf(server: { tls_cert?: string; tls_key?: string; tls_ca?: string }): readonly string[] {
  try {
    readTlsFiles({ tls_cert: '', tls_key: '', tls_ca: '', ...server }, 'node.toml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('readTlsFiles accepted files that cannot be read');
}

describe('TLS files that cannot be read', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'distkv-tls-reason-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('says why in words, once per setting, without the errno code or a repeated path', () => {
    const missing = join(dir, 'none.pem');
    assert.deepEqual(
      problemsOf({ tls_cert: missing, tls_key: dir, tls_ca: join(dir, 'none.pem', 'ca.pem') }),
      [
        `server.tls_cert: cannot read ${missing}: no such file or directory`,
        `server.tls_key: cannot read ${dir}: it is a directory`,
        `server.tls_ca: cannot read ${join(missing, 'ca.pem')}: no such file or directory`,
      ],
    );
  });
});
