/**
 * A node whose own certificate is out of its dates when it starts says so, naming them
 * (src/http/cert-dates.ts); one within its dates says nothing.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { certDatesProblem, warnIfCertOutOfDates } from '../../src/http/cert-dates.js';
import { selfSignedCert } from '../helpers/test-certs.js';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('certificate dates at start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'distkv-cert-dates-'));
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const { cert } = selfSignedCert(dir); // valid for one day from now
  const x = new X509Certificate(cert);
  const from = Date.parse(x.validFrom);
  const to = Date.parse(x.validTo);

  it('names an expired certificate and its dates', () => {
    const problem = certDatesProblem(cert, to + 3 * DAY_MS + 1000);
    assert.equal(problem, `it expired 3 days ago (valid from ${x.validFrom} to ${x.validTo})`);
  });

  it('names a certificate not valid yet', () => {
    assert.match(
      certDatesProblem(cert, from - 2 * DAY_MS - 1000) ?? '',
      /^it is not valid yet, for another 2 days/,
    );
  });

  it('says nothing of a certificate within its dates', () => {
    assert.equal(certDatesProblem(cert, from + 1000), undefined);
  });

  it('warns naming the setting and the file, and says nothing of a file it cannot read', () => {
    const lines: { level: number; msg: string }[] = [];
    const log = pino(
      { level: 'info' },
      { write: (l: string) => lines.push(JSON.parse(l) as { level: number; msg: string }) },
    );
    const path = join(dir, 'cert.pem');
    warnIfCertOutOfDates(log, path, to + DAY_MS + 1000);
    warnIfCertOutOfDates(log, path, from + 1000);
    warnIfCertOutOfDates(log, join(dir, 'missing.pem'), to + DAY_MS + 1000);
    const [line, ...more] = lines;
    assert.ok(line !== undefined && more.length === 0, JSON.stringify(lines));
    assert.equal(line.level, 40);
    assert.match(line.msg, new RegExp(`server\\.tls_cert ${path}.*expired 1 day ago`));
  });
});
