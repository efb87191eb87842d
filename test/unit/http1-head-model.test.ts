/**
 * A seeded model test of the request-head parser (src/http/http1-head.ts): heads built from the
 * pieces its fast paths look at (known header names in every case and near-miss spelling, request
 * lines with and without " HTTP/1.1", targets with '?' and '#' in either order, bytes over 0x7F,
 * control characters, conflicting lengths, bare LF) parse exactly as the parser before those fast
 * paths parsed them (test/unit/http1-head-reference.ts): the same head, or the same refusal.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHead } from '../../src/http/http1-head.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { referenceParseHead } from './http1-head-reference.js';

const METHODS = [
  'GET',
  'PUT',
  'POST',
  'DELETE',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'get',
  'G(T',
  '',
  'PROPFIND',
  'OPTIONSX(',
  'M-SEARCH',
];
const TARGETS = [
  '/kv/a',
  '/kv/key123',
  '/a?b=1',
  '/a#b?c',
  '/a?b#c',
  '/a??b',
  '/#',
  '/?#',
  '*',
  'http://h/x?y',
  'https://h',
  'HTTP://h?q',
  'ftp://h/x',
  '/cl\xc3\xa9?v=\xe2\x82\xac#\xff',
  '/a\x01b',
  '/a\x7fb',
  'x',
  '',
];
const VERSIONS = ['HTTP/1.1', 'HTTP/1.0', 'HTTP/1.2', 'http/1.1', 'HTTP/1.1 ', ' HTTP/1.1', 'HTTP/2', ''];
const NAMES = [
  'Host',
  'host',
  'HOST',
  'hOst',
  'Content-Length',
  'content-length',
  'CONTENT-LENGTH',
  'Content-length',
  'Content-Type',
  'content-type',
  'Connection',
  'connection',
  'Transfer-Encoding',
  'transfer-encoding',
  'Expect',
  'X-Distkv-W',
  'Host ',
  ' Host',
  'Ho st',
  'Content-Length\v',
  'Content\rLength',
  'Hosté',
  '',
];
const VALUES = [
  'b',
  '127.0.0.1:8080',
  '[::1]:80',
  'h:x',
  '10',
  '0',
  ' 5 ',
  '10, 10',
  '10,11',
  '\v5',
  '5\f',
  '999999999999999',
  '1000000000000000',
  '99999999999999999999',
  '18446744073709551615, 018446744073709551615',
  '18446744073709551615,18446744073709551614',
  '00000000000000000005',
  'chunked',
  'Chunked',
  'gzip, chunked',
  '\xa0chunked',
  'close',
  'Keep-Alive',
  'keep-alive, close',
  '100-continue',
  '100-Continue, ',
  '100-continue, foo',
  'foo',
  '',
  'a\x00b',
  'a\tb',
  'caf\xe9',
];

function pick<T>(random: () => number, from: readonly T[]): T {
  return from[Math.floor(random() * from.length)]!;
}

/** usual picks from the first `good` entries (the well-formed ones) 85 % of the time. */
function usual<T>(random: () => number, from: readonly T[], good: number): T {
  return random() < 0.85 ? from[Math.floor(random() * good)]! : pick(random, from);
}

/** head builds one request head (no blank line) from the pieces, mostly well formed. */
function head(random: () => number): string {
  const sp = random() < 0.95 ? ' ' : pick(random, ['  ', '\t', '']);
  let text = `${usual(random, METHODS, 6)}${sp}${usual(random, TARGETS, 14)}${sp}${usual(random, VERSIONS, 2)}`;
  // Most heads have their one Host first; the fields after it may add another.
  if (random() < 0.8)
    text += `\r\n${usual(random, ['Host', 'host', 'HOST'], 2)}: ${usual(random, VALUES, 3)}`;
  const fields = Math.floor(random() * 4);
  for (let i = 0; i < fields; i++) {
    const eol = random() < 0.97 ? '\r\n' : pick(random, ['\n', '\r', '\r\n ', '\r\n\t']);
    const colon = random() < 0.95 ? ':' : pick(random, [' :', '::', '']);
    const ows = pick(random, ['', ' ', '  ', '\t']);
    text += `${eol}${usual(random, NAMES.slice(4), 11)}${colon}${ows}${pick(random, VALUES)}${pick(random, ['', '', ' ', '\t'])}`;
  }
  return text;
}

describe('request head parser, against the parser before its fast paths', () => {
  it('parses or refuses every generated head exactly as before', () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    let parsed = 0;
    for (let i = 0; i < 20000; i++) {
      const text = head(random);
      const got = parseHead(text);
      assert.deepEqual(got, referenceParseHead(text), `seed ${seed}, head ${JSON.stringify(text)}`);
      if (!('status' in got)) parsed++;
    }
    // The generator must reach the parsed heads, not only the refusals.
    assert.ok(parsed > 2000, `seed ${seed}: only ${parsed} heads parsed`);
  });
});
