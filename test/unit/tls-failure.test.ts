/**
 * tlsFailureOf (src/util/tls-failure.ts) tells a failed TLS handshake from a node that does not
 * answer, by Node's error code wherever it sits (the error, its cause, an AggregateError's errors),
 * and says what to check for each kind.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { namingTls, tlsFailureOf, tlsFailureText, tlsRemedy } from '../../src/util/tls-failure.js';

const coded = (message: string, code: string): Error => Object.assign(new Error(message), { code });

describe('tlsFailureOf', () => {
  it('gives each certificate problem its kind', () => {
    const kinds = [
      ['DEPTH_ZERO_SELF_SIGNED_CERT', 'untrusted'],
      ['SELF_SIGNED_CERT_IN_CHAIN', 'untrusted'],
      ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'untrusted'],
      ['CERT_HAS_EXPIRED', 'dates'],
      ['CERT_NOT_YET_VALID', 'dates'],
      ['ERR_TLS_CERT_ALTNAME_INVALID', 'name'],
      ['EPROTO', 'protocol'],
      ['ERR_SSL_WRONG_VERSION_NUMBER', 'protocol'],
      ['ERR_TLS_INVALID_STATE', 'other'],
    ];
    for (const [code, kind] of kinds)
      assert.equal(tlsFailureOf(coded('x', code ?? ''))?.kind, kind, String(code));
  });

  it('finds the code on a cause or among an AggregateError’s errors', () => {
    const inner = coded('certificate has expired', 'CERT_HAS_EXPIRED');
    assert.equal(tlsFailureOf(new Error('fetch failed', { cause: inner }))?.code, 'CERT_HAS_EXPIRED');
    const both = new AggregateError([coded('connect ECONNREFUSED ::1:1', 'ECONNREFUSED'), inner]);
    assert.equal(tlsFailureOf(both)?.code, 'CERT_HAS_EXPIRED');
  });

  it('is undefined for no TLS failure, a handshake timeout, or a cycle of causes', () => {
    assert.equal(tlsFailureOf(coded('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED')), undefined);
    assert.equal(tlsFailureOf(coded('timeout', 'ERR_TLS_HANDSHAKE_TIMEOUT')), undefined);
    assert.equal(tlsFailureOf('CERT_HAS_EXPIRED'), undefined);
    assert.equal(tlsFailureOf(undefined), undefined);
    const a = new Error('a') as Error & { cause?: unknown };
    a.cause = new Error('b', { cause: a });
    assert.equal(tlsFailureOf(a), undefined);
  });
});

describe('tlsRemedy', () => {
  it('says what to check for each kind, naming the other node', () => {
    const of = (code: string): string => {
      const f = tlsFailureOf(coded('m', code));
      assert.ok(f !== undefined);
      return tlsRemedy(f, 'node 10.0.0.1:8080');
    };
    assert.match(of('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), /node 10\.0\.0\.1:8080.*server\.tls_ca/);
    assert.match(of('CERT_HAS_EXPIRED'), /validity dates.*clocks/);
    assert.match(of('ERR_TLS_CERT_ALTNAME_INVALID'), /subjectAltName/);
    assert.match(of('ERR_SSL_WRONG_VERSION_NUMBER'), /tls_cert and tls_key/);
  });

  it('writes a failure as its message and code', () => {
    const f = tlsFailureOf(coded(' certificate has expired\n', 'CERT_HAS_EXPIRED'));
    assert.ok(f !== undefined);
    assert.equal(tlsFailureText(f), 'certificate has expired (CERT_HAS_EXPIRED)');
  });
});

describe('namingTls', () => {
  it('names the request and the failure of a TLS error, keeping it as the cause; other errors pass as they are', () => {
    const expired = coded('certificate has expired', 'CERT_HAS_EXPIRED');
    const named = namingTls(expired, 'pull from https://127.0.0.1:1 shard 0') as Error;
    assert.equal(
      named.message,
      'pull from https://127.0.0.1:1 shard 0: the TLS handshake failed: certificate has expired (CERT_HAS_EXPIRED)',
    );
    assert.equal(named.cause, expired);
    assert.equal(tlsFailureOf(named)?.code, 'CERT_HAS_EXPIRED');
    const refused = coded('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED');
    assert.equal(namingTls(refused, 'pull'), refused);
  });
});
