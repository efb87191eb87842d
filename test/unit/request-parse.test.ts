import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkKey, intParam, keyFromPath, parseQuery, strictQuery } from '../../src/http/request-parse.js';
import { ttlOf } from '../../src/http/write-conditions.js';
import { errorCode } from '../helpers/error-code.js';

describe('request parsing', () => {
  it('decodes percent-encoded keys from /kv/ paths, including "/" and non-ASCII', () => {
    assert.equal(keyFromPath('/kv/a%2Fb', 4, 1024), 'a/b');
    assert.equal(keyFromPath('/kv/a/b', 4, 1024), 'a/b');
    assert.equal(keyFromPath('/kv/%E2%82%AC', 4, 1024), '€');
    assert.deepEqual(
      keyFromPath('/kv/a%FF%00%E2%82', 4, 1024),
      Buffer.from([0x61, 0xff, 0x00, 0xe2, 0x82]),
      'bytes that are not UTF-8 are the key as bytes',
    );
    assert.equal(keyFromPath('/kv/a+b', 4, 1024), 'a+b', "'+' is literal in a path");
  });

  it('rejects empty keys, long keys, bad percent-encoding and invalid UTF-8', () => {
    assert.equal(
      errorCode(() => keyFromPath('/kv/', 4, 1024)),
      'MISSING_KEY',
    );
    assert.equal(
      errorCode(() => {
        checkKey('x'.repeat(1025), 1024);
      }),
      'INVALID_KEY',
    );
    assert.equal(
      errorCode(() => {
        checkKey('é'.repeat(513), 1024);
      }),
      'INVALID_KEY',
      '1026 bytes in 513 characters',
    );
    assert.equal(
      errorCode(() => {
        checkKey('é'.repeat(512), 1024);
      }),
      'none',
    );
    assert.equal(
      errorCode(() => keyFromPath('/kv/%zz', 4, 1024)),
      'INVALID_KEY',
    );
    assert.equal(
      errorCode(() => keyFromPath('/kv/%FF%zz', 4, 1024)),
      'INVALID_KEY',
    );
    assert.equal(
      errorCode(() => keyFromPath(`/kv/${'%FF'.repeat(1025)}`, 4, 1024)),
      'INVALID_KEY',
    );
    assert.equal(
      errorCode(() => keyFromPath('/kv/a\uFFFD', 4, 1024)),
      'INVALID_KEY',
    );
  });

  it('rejects a key with a lone UTF-16 surrogate instead of storing U+FFFD, and takes surrogate pairs', () => {
    for (const key of ['\ud800', 'a\udc00', '\ude00\ud83d'])
      assert.equal(
        errorCode(() => {
          checkKey(key, 1024);
        }),
        'INVALID_KEY',
        JSON.stringify(key),
      );
    assert.equal(
      errorCode(() => {
        checkKey('\ud83d\ude00', 1024);
      }),
      'none',
    );
  });

  it("parses queries as Go's ParseForm does: '+' is a space, first value wins, malformed pairs are reported", () => {
    const { params, bad } = parseQuery('key=John+Doe&value=a%26b&key=second&bad=%zz');
    assert.equal(params.get('key'), 'John Doe');
    assert.equal(params.get('value'), 'a&b');
    assert.deepEqual(bad, ['bad']);
  });

  it('reads integer parameters within bounds', () => {
    const { params } = parseQuery('limit=50&neg=-1&x=abc');
    assert.equal(intParam(params, 'limit', 100, 1, 1000), 50);
    assert.equal(intParam(params, 'missing', 100, 1, 1000), 100);
    assert.equal(
      errorCode(() => intParam(params, 'neg', 1, 0, 10)),
      'INVALID_ARGUMENT',
    );
    assert.equal(
      errorCode(() => intParam(params, 'x', 1, 0, 10)),
      'INVALID_ARGUMENT',
    );
  });

  it('refuses an empty integer parameter and quotes a number it cannot hold as sent', () => {
    const { params } = parseQuery('w=&huge=99999999999999999999&float=1.5&exp=1e3&plus=%2B1');
    for (const name of ['w', 'huge', 'float', 'exp', 'plus'])
      assert.equal(
        errorCode(() => intParam(params, name, 0, 0, 10)),
        'INVALID_ARGUMENT',
        name,
      );
    assert.throws(() => intParam(params, 'w', 0, 0, 10), /w is empty; expected an integer in 0\.\.10/);
    assert.throws(() => intParam(params, 'huge', 0, 0, 10), /got "99999999999999999999"/);
  });

  it('reads every integer parameter as unsigned decimal digits: a sign is refused even on zero, leading zeros are decimal', () => {
    // `w=-0` used to pass (-0 >= 0) and wait for no replica; `ttl_ms=007` is 7 as in ttlOf.
    const { params } = parseQuery('w=-0&limit=-00&lead=007&zero=000');
    assert.equal(
      errorCode(() => intParam(params, 'w', 0, 0, 10)),
      'INVALID_ARGUMENT',
    );
    assert.equal(
      errorCode(() => intParam(params, 'limit', 1, 0, 10)),
      'INVALID_ARGUMENT',
    );
    assert.equal(intParam(params, 'lead', 0, 0, 10), 7);
    assert.equal(intParam(params, 'zero', 5, 0, 10), 0);
    assert.equal(ttlOf('007'), 7);
  });

  it('reads a native query strictly: an unknown, repeated or malformed parameter is refused, naming it', () => {
    const known = ['w', 'ttl_ms'] as const;
    assert.deepEqual([...strictQuery('', known)], []);
    assert.deepEqual(
      [...strictQuery('w=1&ttl_ms=5', known)],
      [
        ['w', '1'],
        ['ttl_ms', '5'],
      ],
    );
    assert.throws(() => strictQuery('w=1&w=2', known), /w is given twice/);
    assert.throws(() => strictQuery('w=1&w=1', known), /w is given twice/);
    assert.throws(
      () => strictQuery('ttl=1000', known),
      /unknown query parameter "ttl"; this endpoint takes w, ttl_ms/,
    );
    assert.throws(() => strictQuery('ttl_ms=%zz', known), /ttl_ms has invalid percent-encoding/);
    // A 30 KB name is not repeated back whole (the answer stays short).
    for (const qs of ['p'.repeat(30000), `${'p'.repeat(30000)}%zz`])
      assert.throws(
        () => strictQuery(qs, known),
        (e: Error) => e.message.length < 300,
      );
    for (const qs of ['w=1&w=2', 'ttl=1', 'w=%zz', '%zz=1'])
      assert.equal(
        errorCode(() => strictQuery(qs, known)),
        'INVALID_ARGUMENT',
        qs,
      );
    assert.deepEqual([...strictQuery('w=1&&', known)], [['w', '1']], 'empty pairs are nothing');
  });
});
