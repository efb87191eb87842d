/**
 * The memtable's key hash (src/storage/key-hash.ts): the same from a key's bytes and from its
 * latin1 string, and seeded per process, so clients cannot precompute keys that collide. And the
 * bloom filter's murmur3, which shares its finalizer: SSTable runs on disk depend on its bits.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { murmur3 } from '../../src/storage/bloom.js';
import { hashBytes, hashLatin1 } from '../../src/storage/key-hash.js';

const MODULE = fileURLToPath(new URL('../../src/storage/key-hash.js', import.meta.url));

/** hashInChild hashes `keys` in a fresh Node process. */
function hashInChild(keys: string[]): number[] {
  const script = `import(${JSON.stringify(MODULE)}).then((m) => console.log(JSON.stringify(${JSON.stringify(keys)}.map((k) => m.hashLatin1(k)))));`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as number[];
}

describe('key hash', () => {
  it('hashes a key the same from its bytes and from its latin1 string, at any offset', () => {
    for (const key of ['', 'a', 'key1', 'key2', 'k\u00ff\u0000\u0080z', 'x'.repeat(300)]) {
      const bytes = Buffer.from(key, 'latin1');
      const framed = Buffer.concat([Buffer.from('pre'), bytes, Buffer.from('post')]);
      assert.equal(hashBytes(bytes, 0, bytes.length), hashLatin1(key));
      assert.equal(hashBytes(framed, 3, 3 + bytes.length), hashLatin1(key));
    }
  });

  it('is seeded per process: another process hashes the same keys differently', () => {
    const keys = ['a', 'key1', 'user:1000'];
    const a = hashInChild(keys);
    const b = hashInChild(keys);
    // With a fixed hash both children (and this process) agree on every key; seeded, a shared
    // value is a 2^-32 chance per key.
    assert.notDeepEqual(a, b);
    assert.notDeepEqual(
      a,
      keys.map((k) => hashLatin1(k)),
    );
  });

  it('leaves the bloom filter murmur3 equal to the reference MurmurHash3 x86_32 (runs on disk depend on it)', () => {
    assert.equal(murmur3('', 0) >>> 0, 0);
    assert.equal(murmur3('', 1) >>> 0, 0x514e28b7);
    assert.equal(murmur3('hello', 0) >>> 0, 0x248bfa47);
    assert.equal(murmur3('The quick brown fox jumps over the lazy dog', 0) >>> 0, 0x2e4ff723);
  });
});
