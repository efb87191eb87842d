/**
 * Keys as bytes in the client library (src/client/key-bytes.ts): a key that is not UTF-8 goes into
 * `/kv/{key}` percent-encoded byte by byte, so the server reads back exactly its bytes, and it is
 * routed by the slot of those bytes; a key that is UTF-8 gives the same path and shard as text.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keyPath, keyText, shardOfKey } from '../../src/client/key-bytes.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { bytesOfPath, randomKeys } from '../helpers/binary-keys.js';
import { seededRandom } from '../helpers/random.js';

const map = new ShardMap(
  Array.from({ length: 4 }, (_, i) => ({
    name: `s${i}`,
    idx: i,
    address: '127.0.0.1:1',
    replicas: [],
    slots: { first: i * 4096, last: i * 4096 + 4095 },
  })),
);

describe('keys as bytes', () => {
  it('puts every byte of a key that is not UTF-8 into the path, and routes it by those bytes', () => {
    for (const key of randomKeys(seededRandom(7), 'k/', 300)) {
      const path = keyPath(key);
      assert.match(path, /^[A-Za-z0-9\-._~%]*$/);
      assert.deepEqual(bytesOfPath(path), key);
      const text = key.toString('utf8');
      if (Buffer.from(text, 'utf8').equals(key)) {
        assert.equal(path.toLowerCase(), keyPath(text).toLowerCase());
        assert.equal(shardOfKey(map, key), shardOfKey(map, text));
      }
    }
  });

  it('sends a leading `_` as %5F, so the key `_batch` is not the batch route', () => {
    assert.equal(keyPath('_batch'), '%5Fbatch');
    assert.equal(keyPath(Buffer.from('_batch')), '%5Fbatch');
    assert.deepEqual(bytesOfPath(keyPath('__x')), Buffer.from('__x'));
    assert.equal(keyPath('a_b'), 'a_b');
  });

  it('shows a key that is bytes in hex in messages, and text as JSON', () => {
    assert.equal(keyText(Buffer.from([0x6b, 0xff])), '0x6bff');
    assert.equal(keyText('a"b'), '"a\\"b"');
  });
});
