/**
 * The bearer-token check of the admin and replication endpoints (src/http/auth.ts): the scheme
 * name in any case, the token exactly; no token configured lets everything through.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authError } from '../../src/http/auth.js';
import { HttpRequest } from '../../src/http/http1-exchange.js';
import { isHeadError, parseHead } from '../../src/http/http1-head.js';

/** requestWith is a request carrying `lines` as header fields. */
function requestWith(...lines: string[]): HttpRequest {
  const head = parseHead(['POST /purge HTTP/1.1', 'Host: t', ...lines].join('\r\n'));
  if (isHeadError(head)) throw new Error(head.message);
  return new HttpRequest(head);
}

describe('the bearer token of admin endpoints', () => {
  it('takes the token after Bearer in any case, and nothing else', () => {
    for (const line of [
      'Authorization: Bearer s3cret',
      'Authorization: bearer s3cret',
      'authorization: BEARER  s3cret',
    ])
      assert.equal(authError(requestWith(line), 's3cret'), undefined, line);
    for (const lines of [
      [],
      ['Authorization: Bearer s3cre'],
      ['Authorization: Bearer s3cretx'],
      ['Authorization: Bearer '],
      ['Authorization: Basic s3cret'],
      ['Authorization: s3cret'],
      ['Authorization: Bearers3cret'],
    ])
      assert.equal(authError(requestWith(...lines), 's3cret')?.code, 'UNAUTHORIZED', JSON.stringify(lines));
  });

  it('lets every request through when no token is configured', () => {
    assert.equal(authError(requestWith(), ''), undefined);
    assert.equal(authError(requestWith('Authorization: Bearer x'), ''), undefined);
  });
});
