import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  CONTENT_LENGTH_CLAMP,
  type HeadError,
  isHeadError,
  MAX_URL_BYTES,
  parseContentLength,
  parseHead,
  type RequestHead,
} from '../../src/http/http1-head.js';

const ok = (head: string): RequestHead => {
  const h = parseHead(head);
  if (isHeadError(h)) assert.fail(`expected a head, got ${h.status} ${h.message}`);
  return h;
};
const refused = (head: string): HeadError => {
  const h = parseHead(head);
  if (!isHeadError(h)) assert.fail(`expected a refusal of ${JSON.stringify(head)}`);
  return h;
};

describe('HTTP/1.1\r\nHost: t request head parsing', () => {
  it('splits the target into path and query and keeps percent-encoding', () => {
    const h = ok('GET /kv/a%2Fb?x=1&y=%20 HTTP/1.1\r\nHost: a');
    assert.equal(h.method, 'GET');
    assert.equal(h.path, '/kv/a%2Fb');
    assert.equal(h.query, 'x=1&y=%20');
    assert.deepEqual([h.minor, h.keepAlive, h.contentLength, h.chunked], [1, true, -1, false]);
    assert.deepEqual(h.names, ['host']);
  });

  it('keeps HTTP/1.0 alive only with Connection: keep-alive, and HTTP/1.1\r\nHost: t unless Connection: close', () => {
    assert.equal(ok('GET / HTTP/1.0').keepAlive, false);
    assert.equal(ok('GET / HTTP/1.0\r\nConnection: Keep-Alive').keepAlive, true);
    assert.equal(ok('GET / HTTP/1.1\r\nHost: t\r\nConnection: close').keepAlive, false);
    assert.equal(ok('GET / HTTP/1.1\r\nHost: t\r\nConnection: upgrade, close').keepAlive, false);
  });

  it('accepts one Content-Length and equal duplicates; refuses different, invalid and negative ones', () => {
    assert.equal(ok('PUT /kv/a HTTP/1.1\r\nHost: t\r\nContent-Length: 5').contentLength, 5);
    assert.equal(
      ok('PUT /kv/a HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 5').contentLength,
      5,
    );
    assert.equal(ok('PUT /kv/a HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 5').contentLength, 5);
    assert.match(
      refused('PUT /kv/a HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 5').message,
      /conflicting/,
    );
    assert.equal(refused('PUT /kv/a HTTP/1.1\r\nHost: t\r\nContent-Length: 3, 5').status, 400);
    assert.equal(refused('PUT /kv/a HTTP/1.1\r\nHost: t\r\nContent-Length: -1').status, 400);
    assert.equal(refused('PUT /kv/a HTTP/1.1\r\nHost: t\r\nContent-Length: 0x10').status, 400);
    assert.equal(refused('PUT /kv/a HTTP/1.1\r\nHost: t\r\nContent-Length: ').status, 400);
    assert.equal(refused('PUT /kv/a HTTP/1.1\r\nHost: t\r\nContent-Length: 1 2').status, 400);
    assert.deepEqual(parseContentLength(['007']), 7);
  });

  it('reads a Content-Length of digits too many to read exactly as over every limit (413), not as malformed (400)', () => {
    for (const cl of ['9'.repeat(16), '99999999999999999999', '18446744073709551615', '1'.repeat(300)])
      assert.equal(
        ok(`PUT /kv/a HTTP/1.1\r\nHost: t\r\nContent-Length: ${cl}`).contentLength,
        CONTENT_LENGTH_CLAMP,
        cl,
      );
    assert.equal(ok(`PUT /kv/a HTTP/1.1\r\nHost: t\r\nContent-Length: ${'0'.repeat(20)}7`).contentLength, 7);
    assert.equal(
      ok('PUT /kv/a HTTP/1.1\r\nHost: t\r\nContent-Length: 18446744073709551615, 018446744073709551615')
        .contentLength,
      CONTENT_LENGTH_CLAMP,
    );
    assert.match(
      refused('PUT /kv/a HTTP/1.1\r\nHost: t\r\nContent-Length: 18446744073709551615, 18446744073709551614')
        .message,
      /conflicting Content-Length values 18446744073709551615 and 18446744073709551614/,
    );
    for (const cl of ['-18446744073709551615', '18446744073709551615x', '1e30', '+99999999999999999999'])
      assert.match(
        refused(`PUT /kv/a HTTP/1.1\r\nHost: t\r\nContent-Length: ${cl}`).message,
        /is not a decimal number of bytes/,
        cl,
      );
  });

  it('reads chunked framing and refuses it together with Content-Length, other codings and HTTP/1.0', () => {
    assert.equal(ok('PUT /kv/a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: Chunked').chunked, true);
    assert.match(
      refused('PUT /kv/a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3').message,
      /both/,
    );
    assert.equal(refused('PUT /kv/a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked').status, 400);
    assert.equal(
      refused('PUT /kv/a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked')
        .status,
      400,
    );
    assert.equal(refused('PUT /kv/a HTTP/1.0\r\nTransfer-Encoding: chunked').status, 400);
  });

  it('notes Expect: 100-continue', () => {
    assert.equal(
      ok('PUT /kv/a HTTP/1.1\r\nHost: t\r\nExpect: 100-Continue\r\nContent-Length: 1').expectContinue,
      true,
    );
  });

  it('refuses malformed request lines, header lines and versions with 400', () => {
    for (const head of [
      'GET /',
      'GET  / HTTP/1.1\r\nHost: t',
      'G@T / HTTP/1.1\r\nHost: t',
      'GET / HTTP/2.0',
      'GET / HTTP/1.1\r\nHost: t\r\nno-colon',
      'GET / HTTP/1.1\r\nHost: t\r\nbad name: x',
      'GET / HTTP/1.1\r\nHost : x',
      'GET / HTTP/1.1\r\nHost: t\r\nA: b\r\n folded',
      'GET / HTTP/1.1\r\nHost: t\r\nA: b\0c',
      'GET a/b HTTP/1.1\r\nHost: t',
    ])
      assert.equal(refused(head).status, 400, JSON.stringify(head));
  });

  it('answers 414 for a target over MAX_URL_BYTES', () => {
    assert.equal(refused(`GET /${'a'.repeat(MAX_URL_BYTES)} HTTP/1.1\r\nHost: t`).status, 414);
  });

  it('takes absolute-form targets and decodes raw UTF-8 bytes in them', () => {
    const h = ok('GET http://host:1/kv/x?y=1 HTTP/1.1\r\nHost: t');
    assert.deepEqual([h.path, h.query], ['/kv/x', 'y=1']);
    const raw = Buffer.from('/kv/€', 'utf8').toString('latin1');
    assert.equal(ok(`GET ${raw} HTTP/1.1\r\nHost: t`).path, '/kv/€');
  });

  it('takes the asterisk-form target only with OPTIONS (RFC 9112 section 3.2.4)', () => {
    assert.equal(ok('OPTIONS * HTTP/1.1\r\nHost: a').path, '*');
    for (const method of ['GET', 'PUT', 'DELETE', 'HEAD', 'POST'])
      assert.equal(refused(`${method} * HTTP/1.1\r\nHost: a`).status, 400, method);
  });

  it('refuses an HTTP/1.1 request without Host, any request with two, and a Host that is not host[:port]', () => {
    assert.match(refused('GET /kv/a HTTP/1.1').message, /needs a Host header/);
    assert.match(refused('GET /kv/a HTTP/1.1\r\nContent-Length: 0').message, /needs a Host header/);
    assert.match(refused('GET /kv/a HTTP/1.1\r\nHost: a\r\nHost: b').message, /more than one Host/);
    assert.match(refused('GET /kv/a HTTP/1.0\r\nHost: a\r\nhost: a').message, /more than one Host/);
    for (const value of ['a b', 'a/b', 'a@b', 'a:1:x', '[::1'])
      assert.match(refused(`GET / HTTP/1.1\r\nHost: ${value}`).message, /not a host\[:port\]/, value);
    assert.equal(ok('GET / HTTP/1.0').keepAlive, false, 'HTTP/1.0 needs none');
    for (const value of ['', 'a', '127.0.0.1:8080', '[::1]:80', 'xn--bcher-kva.example', 'a.b.'])
      assert.deepEqual(ok(`GET / HTTP/1.1\r\nHost: ${value}`).names, ['host'], value);
  });

  it('keeps a header value without the SP and HTAB around it and refuses any other control character in it, for any latin1 value (seeded property)', () => {
    const latin1 = fc.integer({ min: 0, max: 0xff }).map((c) => String.fromCharCode(c));
    const special = fc.constantFrom(' ', '\t', '\v', '\f', '\r', '\n', '\0', '\x7f', '\xa0', '\x85', 'a');
    fc.assert(
      fc.property(fc.array(fc.oneof(latin1, special), { maxLength: 24 }), (chars) => {
        const value = chars.join('');
        fc.pre(!value.includes('\r\n'));
        const h = parseHead(`GET / HTTP/1.1\r\nHost: a\r\nX-T:${value}`);
        const trimmed = value.replace(/^[ \t]+|[ \t]+$/g, '');
        let control = false;
        for (let i = 0; i < trimmed.length; i++) {
          const c = trimmed.charCodeAt(i);
          if ((c < 0x20 && c !== 0x09) || c === 0x7f) control = true;
        }
        if (control) {
          assert.ok(isHeadError(h) && h.message.includes('forbidden character'), JSON.stringify(value));
          return;
        }
        assert.ok(!isHeadError(h), JSON.stringify(value));
        assert.equal(h.values[1], trimmed);
      }),
      { seed: 3118, numRuns: 2000 },
    );
  });

  it('reads no coding or length out of a value padded with VT, FF or NBSP (a proxy may read it otherwise)', () => {
    for (const te of ['chunked\v', '\fchunked', '\xa0chunked', 'chunked\xa0'])
      assert.equal(
        refused(`PUT /kv/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ${te}`).status,
        400,
        JSON.stringify(te),
      );
    for (const cl of ['1\f', '\v1', '1, \xa01'])
      assert.equal(
        refused(`PUT /kv/a HTTP/1.1\r\nHost: a\r\nContent-Length: ${cl}`).status,
        400,
        JSON.stringify(cl),
      );
    assert.equal(ok('PUT /kv/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \t chunked \t').chunked, true);
    assert.equal(ok('PUT /kv/a HTTP/1.1\r\nHost: a\r\nContent-Length: 1 ,\t1').contentLength, 1);
  });
});
