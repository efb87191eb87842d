/**
 * batch() reads an operation's `ifMatch` as put() reads it (wire-decode.ts ifMatchValue, one
 * parser): quotes optional, surrounding white space dropped (docs/api.md "Versions": the CR of a
 * version read from a file with CRLF line ends), a lone quote refused. batch() stripped a quote at
 * either end with a regular expression, so `"0.5"\r` or ` "0.5" ` got the whole batch refused by
 * the node (400) and a half-quoted `"0.5` was sent as 0.5 where put() refuses it. Found by
 * tester-65; fails on the code before the fix (5 of 8 forms).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { wireOp } from '../../src/client/batch-wire.js';
import { conditionsOf } from '../../src/client/wire-decode.js';

/** putHeader is the If-Match put() sends for `ifMatch` (without quotes), or the code it refuses it with. */
function putHeader(ifMatch: string): string {
  try {
    return (conditionsOf({ ifMatch })['if-match'] ?? '').replace(/^"|"$/g, '');
  } catch (err) {
    return `refused ${(err as { code?: string }).code ?? ''}`;
  }
}

/** batchField is the if_match a batch() set sends for `ifMatch`, or the code it refuses it with. */
function batchField(ifMatch: string): string {
  try {
    return String(wireOp({ op: 'set', key: 'k', value: 'v', ifMatch }).if_match);
  } catch (err) {
    return `refused ${(err as { code?: string }).code ?? ''}`;
  }
}

describe('an ifMatch given to batch() and to put()', () => {
  for (const form of ['0.5', '"0.5"', '"0.5"\r', '"0.5"\n', ' "0.5" ', '"0.5', '0.5"', '*']) {
    it(`is read alike: ${JSON.stringify(form)}`, () => {
      assert.equal(batchField(form), putHeader(form));
    });
  }
});
