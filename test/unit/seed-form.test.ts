/**
 * The seed endpoints' query reading (src/http/seed-form.ts) against what Go's url.ParseQuery and
 * r.Form.Get give the seed for the same query.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seedFormValue } from '../../src/http/seed-form.js';

describe('seed form values, as Go reads them', () => {
  it('keeps percent-encoded bytes that are not UTF-8 as bytes (Go strings are bytes)', () => {
    assert.deepEqual(seedFormValue('key=k&value=%FF%fe', 'value'), Buffer.from([0xff, 0xfe]));
    assert.deepEqual(seedFormValue('key=a%FF%00', 'key'), Buffer.from([0x61, 0xff, 0x00]));
    assert.equal(seedFormValue('key=%C3%A9+x', 'key'), 'é x', 'UTF-8 bytes come back as text');
    assert.equal(seedFormValue('key=é', 'key'), 'é', 'raw UTF-8 a client sent');
  });

  it("drops a pair holding ';' (Go 1.17 and later), and only that pair", () => {
    assert.equal(seedFormValue('key=a;b', 'key'), '');
    assert.equal(seedFormValue('key=k&value=a;b', 'value'), '');
    assert.equal(seedFormValue('key=k&x=;', 'key'), 'k');
    assert.equal(seedFormValue('key=a;b&key=c', 'key'), 'c', 'the next pair of the name counts');
  });

  it("drops a pair with a '%' not followed by two hex digits; the first value wins", () => {
    assert.equal(seedFormValue('key=%zz', 'key'), '');
    assert.equal(seedFormValue('key=%zz&key=b', 'key'), 'b');
    assert.equal(seedFormValue('key=a&key=b', 'key'), 'a');
    assert.equal(seedFormValue('k%65y=a', 'key'), 'a', 'names are unescaped too');
    assert.equal(seedFormValue('value=1', 'key'), '');
    assert.equal(seedFormValue('key', 'key'), '', 'a name without "=" has the empty value');
    assert.equal(seedFormValue('key=%2541', 'key'), '%41', 'unescaped once');
  });
});
