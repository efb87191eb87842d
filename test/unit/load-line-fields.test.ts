/**
 * `distkv load` reads only lines that say exactly what to load (src/cli/load.ts parseLine): a field
 * it does not read is refused, naming it (a `"ttl_ms"` loaded a key that never expires), and so is
 * a line with both `"value"` and `"value_base64"` (one was loaded, the other dropped without a
 * word), as `POST /kv/_batch` refuses both.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseLine } from '../../src/cli/load.js';

describe('distkv load: the fields of a line', () => {
  it('refuses a field it does not read, naming it and the line', () => {
    assert.throws(
      () => parseLine('{"key":"k","value":"v","ttl_ms":5000}', 4, 1024, 10),
      /line 4: unknown field "ttl_ms": .*a load takes no TTL/,
    );
    assert.throws(
      () => parseLine('{"key":"k","value":"v","vaule":"w"}', 5, 1024, 10),
      /line 5: unknown field "vaule"/,
    );
    assert.throws(() => parseLine('{"key":"k","Value":"v"}', 6, 1024, 10), /line 6: unknown field "Value"/);
  });

  it('refuses a line with both "value" and "value_base64"', () => {
    assert.throws(
      () => parseLine('{"key":"k","value":"v","value_base64":"dw=="}', 2, 1024, 10),
      /line 2: give "value" or "value_base64", not both/,
    );
  });

  it('refuses an array, and still reads what scan --json and get --json --show-version print', () => {
    assert.throws(() => parseLine('["k","v"]', 1, 1024, 10), /line 1: expected an object/);
    assert.deepEqual(parseLine('{"key":"k","value":"v","version":"0.12"}', 1, 1024, 10), {
      key: Buffer.from('k'),
      value: Buffer.from('v'),
    });
    assert.deepEqual(parseLine('{"key":"q\\uFFFD","key_base64":"cYA=","value_base64":"AAE="}', 1, 1024, 10), {
      key: Buffer.from([0x71, 0x80]),
      value: Buffer.from([0, 1]),
    });
  });
});
