/**
 * The refusal of a malformed request line (src/http/http1-head.ts) says what a request line is:
 * HTTP/0.9's `GET /kv/a`, a line ending with a space and a target with a space too many were
 * refused as "malformed request line", as the protocol "" or as a target " /kv/a" that is not a
 * path, none of which told the client its mistake.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHeadError, parseHead } from '../../src/http/http1-head.js';

const EXPECTED = /^malformed request line: expected a method, a target and HTTP\/1\.1, one space apart/;

describe('a malformed request line', () => {
  for (const [what, line] of [
    ['HTTP/0.9 (no version)', 'GET /kv/a'],
    ['a line ending with a space', 'GET /kv/a HTTP/1.1 '],
    ['two spaces before the target', 'GET  /kv/a HTTP/1.1'],
    ['two spaces after the target', 'GET /kv/a  HTTP/1.1'],
    ['two spaces after the target of an HTTP/1.0 line', 'GET /kv/a  HTTP/1.0'],
    ['no target', 'GET  HTTP/1.1'],
  ] as const)
    it(`is refused 400 saying what a request line is: ${what}`, () => {
      const h = parseHead(`${line}\r\nHost: t`);
      assert.ok(isHeadError(h), `refused: ${JSON.stringify(line)}`);
      assert.equal(h.status, 400);
      assert.match(h.message, EXPECTED);
    });

  it('names a space inside the target as a space, not a control character', () => {
    const h = parseHead('GET /kv/a b HTTP/1.1\r\nHost: t');
    assert.ok(isHeadError(h));
    assert.equal(h.status, 400);
    assert.match(h.message, /request target has a space \(send it as %20\)/);
    const c = parseHead('GET /kv/a\x01b HTTP/1.1\r\nHost: t');
    assert.ok(isHeadError(c));
    assert.match(c.message, /request target has a control character/);
  });

  it('still names an unsupported protocol as such', () => {
    const h = parseHead('GET /kv/a HTTP/2.0\r\nHost: t');
    assert.ok(isHeadError(h));
    assert.match(h.message, /^unsupported protocol "HTTP\/2\.0"/);
  });
});
