/**
 * Every integer query parameter is read by one rule (src/http/request-parse.ts `uintOf`;
 * docs/api.md): ASCII digits only, no sign, no space, however many leading zeros (they mean
 * nothing). Before, each reader had its own digit count (`intParam` 16, `ttl_ms` and
 * `expires_at_ms` 15, a scan part's `shards` 9, a watch's `shards` 5), so `limit=05` was 5 but
 * the same 5 with more zeros was refused by one parameter and not another, and a refusal of
 * `limit=+5` quoted " 5" without saying why.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistkvError } from '../../src/errors.js';
import { relayWaitMs } from '../../src/http/proxy.js';
import { intParam, parseQuery } from '../../src/http/request-parse.js';
import { SCAN_MAX_LIMIT } from '../../src/http/scan-limit.js';
import { parseShardList } from '../../src/http/scatter-merge.js';
import { expiresAtOf, ttlOf } from '../../src/http/write-conditions.js';

/** refusal returns the INVALID_ARGUMENT message `f` throws. */
function refusal(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof DistkvError, String(err));
    assert.equal(err.code, 'INVALID_ARGUMENT');
    return err.message;
  }
  assert.fail('accepted');
}

const ZEROS = '0'.repeat(20);

describe('integer query parameters', () => {
  it('read leading zeros alike in every parameter, however many', () => {
    const { params } = parseQuery(`limit=05&w=${ZEROS}1&max_lag_ms=${ZEROS}0`);
    assert.equal(intParam(params, 'limit', 100, 1, SCAN_MAX_LIMIT), 5);
    assert.equal(intParam(params, 'w', 0, 0, 2), 1);
    assert.equal(intParam(params, 'max_lag_ms', -1, 0, 1000), 0);
    assert.equal(ttlOf(`${ZEROS}7`), 7);
    const at = Date.now() + 60_000;
    assert.equal(expiresAtOf(`${ZEROS}${at}`), at);
    assert.deepEqual(parseShardList(`${ZEROS}1,2`, 4), [1, 2]);
    assert.equal(relayWaitMs(`w=${ZEROS}1&timeout_ms=${ZEROS}1000`), 1000);
  });

  it('refuse a sign in every parameter: +5 (a space in a query), %2B5 and -5 alike', () => {
    for (const text of ['+5', '%2B5', '-5']) {
      const { params } = parseQuery(`limit=${text}`);
      const value = params.get('limit')!;
      const message = refusal(() => intParam(params, 'limit', 100, 1, SCAN_MAX_LIMIT));
      assert.match(
        message,
        new RegExp(`^limit must be an integer in 1\\.\\.${SCAN_MAX_LIMIT}, got ".*": give ASCII digits only`),
      );
      assert.match(message, /with no sign, space, fraction or exponent \(a "\+" in a query is a space\)$/);
      refusal(() => ttlOf(value));
      refusal(() => expiresAtOf(value));
      assert.throws(() => parseShardList(value, 8), /shards must list/);
    }
    assert.equal(relayWaitMs('w=%2B1&timeout_ms=1000'), 0, 'a signed w read as a wait');
  });

  it('name the parameter and its bounds for a value out of them, without the rule when it was digits', () => {
    const { params } = parseQuery('limit=0&w=3');
    assert.equal(
      refusal(() => intParam(params, 'limit', 100, 1, SCAN_MAX_LIMIT)),
      `limit must be an integer in 1..${SCAN_MAX_LIMIT}, got "0"`,
    );
    assert.equal(
      refusal(() => intParam(params, 'w', 0, 0, 2)),
      'w must be an integer in 0..2, got "3"',
    );
  });

  it('quote at most 40 characters of a refused value', () => {
    const { params } = parseQuery(`limit=${'9'.repeat(500)}x`);
    const message = refusal(() => intParam(params, 'limit', 100, 1, SCAN_MAX_LIMIT));
    assert.ok(message.length < 200, message);
    assert.match(message, /got "9{40}\.\.\.": give ASCII digits only/);
  });
});
