/**
 * Node addresses as users type them (`host:port` like redis-cli and etcdctl, or a URL), the
 * DISTKV_URL list, and scan pages decoded to Buffers whichever JSON field carries the value.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeScanPage } from '../../src/client/wire-decode.js';
import { endpointsFromEnv, parseEndpoint } from '../../src/client/endpoint.js';
import { DistkvError } from '../../src/errors.js';

describe('parseEndpoint', () => {
  it('takes host:port, URLs and IPv6, and defaults the port to 8080', () => {
    assert.equal(parseEndpoint('localhost:8080'), 'http://localhost:8080');
    assert.equal(parseEndpoint(' 127.0.0.1:9000 '), 'http://127.0.0.1:9000');
    assert.equal(parseEndpoint('http://127.0.0.1:9000/'), 'http://127.0.0.1:9000');
    assert.equal(parseEndpoint('https://db.example:443'), 'https://db.example:443');
    assert.equal(parseEndpoint('http://10.0.0.1:80'), 'http://10.0.0.1:80');
    assert.equal(parseEndpoint('[::1]:7000'), 'http://[::1]:7000');
    assert.equal(parseEndpoint('localhost'), 'http://localhost:8080');
  });

  it('rejects what is not a node address with INVALID_ARGUMENT naming it', () => {
    for (const bad of ['', 'ftp://x:1', 'http://x:1/kv', 'x:1?a=b', 'http://u:p@x:1', 'x:99999', 'http://']) {
      assert.throws(
        () => parseEndpoint(bad),
        (err: unknown) =>
          err instanceof DistkvError && err.code === 'INVALID_ARGUMENT' && err.message.includes(`"${bad}"`),
        bad,
      );
    }
  });

  it('rejects port 0, which no node listens on, as a usage mistake rather than a node to wait for', () => {
    // `--url 127.0.0.1:0` was taken, and the CLI then waited 10 s for a connection no node can take.
    for (const bad of ['127.0.0.1:0', 'http://x:0', 'https://x:000', '[::1]:0']) {
      assert.throws(
        () => parseEndpoint(bad),
        (err: unknown) =>
          err instanceof DistkvError && err.code === 'INVALID_ARGUMENT' && /port 0/.test(err.message),
        bad,
      );
    }
  });

  it('names a port over 65535 as such, not as an unparsable address', () => {
    for (const bad of ['127.0.0.1:99999', 'http://x:65536', '[::1]:100000']) {
      assert.throws(
        () => parseEndpoint(bad),
        (err: unknown) =>
          err instanceof DistkvError &&
          err.code === 'INVALID_ARGUMENT' &&
          /port \d+ is over 65535/.test(err.message),
        bad,
      );
    }
  });

  it('splits DISTKV_URL on commas, ignoring blanks', () => {
    assert.deepEqual(endpointsFromEnv(' a:1, b:2 ,,'), ['a:1', 'b:2']);
    assert.deepEqual(endpointsFromEnv(undefined), []);
  });
});

describe('decodeScanPage', () => {
  it('returns Buffers for value and value_base64 items alike', () => {
    const page = decodeScanPage(
      Buffer.from(
        JSON.stringify({
          items: [
            { key: 'a', value: 'héllo' },
            { key: 'b', value_base64: Buffer.from([0, 255]).toString('base64') },
            { key: 'c', value: '' },
          ],
          next: 'c',
        }),
      ),
    );
    assert.deepEqual(page, {
      items: [
        { key: 'a', value: Buffer.from('héllo') },
        { key: 'b', value: Buffer.from([0, 255]) },
        { key: 'c', value: Buffer.alloc(0) },
      ],
      next: 'c',
    });
  });
});
