/**
 * The `[server]` TLS files are read and checked at start, naming the setting and the file
 * (src/config/tls-files.ts). Before, a bad tls_cert or tls_key stopped `distkv serve` with the bare
 * OpenSSL or file-system message, naming neither.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readTlsFiles } from '../../src/config/tls-files.js';
import { ConfigError } from '../../src/errors.js';

/** problemsOf returns the problems readTlsFiles reports for `server` ([] when it reads them). */
function problemsOf(server: { tls_cert?: string; tls_key?: string; tls_ca?: string }): string[] {
  try {
    readTlsFiles({ tls_cert: '', tls_key: '', tls_ca: '', ...server }, 'node.toml');
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.match(err.message, /^invalid configuration in node\.toml:/);
    return [...err.problems];
  }
}

describe('TLS files', () => {
  let dir = '';
  const at = (name: string): string => join(dir, name);
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'distkv-tls-files-'));
    for (const n of ['a', 'b'])
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'].concat([
          '-keyout',
          `${n}-key.pem`,
          '-out',
          `${n}.pem`,
          '-subj',
          `/CN=${n}`,
          '-days',
          '1',
        ]),
        { cwd: dir, stdio: 'pipe' },
      );
    writeFileSync(at('garbage.pem'), 'garbage\n');
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads a certificate, its key and a CA', () => {
    const files = readTlsFiles(
      { tls_cert: at('a.pem'), tls_key: at('a-key.pem'), tls_ca: at('b.pem') },
      'node.toml',
    );
    assert.ok(files.cert !== undefined && files.key !== undefined && files.ca !== undefined);
    assert.deepEqual(readTlsFiles({ tls_cert: '', tls_key: '', tls_ca: '' }, 'node.toml'), {
      cert: undefined,
      key: undefined,
      ca: undefined,
    });
  });

  it('names the setting and the file that is missing or a directory', () => {
    assert.deepEqual(
      problemsOf({ tls_cert: at('none.pem'), tls_key: dir }).map((p) => p.split(': ').slice(0, 2).join(': ')),
      [`server.tls_cert: cannot read ${at('none.pem')}`, `server.tls_key: cannot read ${dir}`],
    );
  });

  it('refuses files that are not PEM, or a key of another certificate', () => {
    assert.match(
      problemsOf({ tls_cert: at('garbage.pem'), tls_key: at('a-key.pem') }).join('\n'),
      /^server\.tls_cert, server\.tls_key: .*garbage\.pem and .*a-key\.pem are not a PEM certificate and its private key/,
    );
    assert.match(
      problemsOf({ tls_cert: at('a.pem'), tls_key: at('b-key.pem') }).join('\n'),
      /are not a PEM certificate and its private key/,
    );
    assert.match(
      problemsOf({ tls_ca: at('garbage.pem') }).join('\n'),
      /^server\.tls_ca: .*garbage\.pem is not a PEM certificate/,
    );
  });
});
