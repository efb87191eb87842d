/**
 * Canonical base64 (src/http/batch-parse.ts, isCanonicalBase64): what `value_base64`, `key_base64`,
 * `prefix_base64` and `after_base64` take. Every encoder's output is taken; a text whose padding
 * leaves unused bits set (`d/9=`, read as `d/8=`) is not: it named the same bytes as another text.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCanonicalBase64 } from '../../src/http/batch-parse.js';
import { seededRandom, testSeed } from '../helpers/random.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

describe('canonical base64', () => {
  it('takes what an encoder writes and refuses every other text for the same bytes', () => {
    const seed = testSeed();
    const rand = seededRandom(seed);
    for (let i = 0; i < 2000; i++) {
      const bytes = Buffer.from(
        Array.from({ length: Math.floor(rand() * 9) }, () => Math.floor(rand() * 256)),
      );
      const text = bytes.toString('base64');
      assert.ok(isCanonicalBase64(text), `seed ${seed}: ${text}`);
      if (!text.endsWith('=')) continue;
      // Every other character in the last place before the padding that decodes to the same bytes.
      const at = text.indexOf('=') - 1;
      for (const c of ALPHABET) {
        const other = text.slice(0, at) + c + text.slice(at + 1);
        if (other === text || !Buffer.from(other, 'base64').equals(bytes)) continue;
        assert.equal(isCanonicalBase64(other), false, `seed ${seed}: ${other} was taken for ${text}`);
      }
    }
  });

  it('refuses unpadded, misplaced padding and characters outside the alphabet', () => {
    for (const bad of [
      'd/8',
      'd/8=x',
      '=d/8',
      'd-8=',
      'd_8=',
      'ZA=',
      'Z===',
      'd/9=',
      'ZB==',
      'Zh==',
      'ZA==\n',
      ' ZA=',
      'Z A=',
      'ZA=A',
      'AA==AAAA',
    ]) {
      assert.equal(isCanonicalBase64(bad), false, bad);
    }
    for (const good of ['', 'd/8=', 'ZA==', 'Zg==', 'AAAA']) assert.ok(isCanonicalBase64(good), good);
  });

  it('checks a value of 8 MiB (a regular expression ran out of stack at 4 MiB) and finds one bad character in it', () => {
    const bytes = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131) & 0xff;
    const text = bytes.toString('base64');
    assert.ok(isCanonicalBase64(text));
    const middle = text.length >> 1;
    assert.equal(isCanonicalBase64(`${text.slice(0, middle)}*${text.slice(middle + 1)}`), false);
    assert.equal(isCanonicalBase64(text.slice(0, -1)), false);
  });
});
