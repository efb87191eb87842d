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

  // A line with only "key_base64" was refused as '"key" must be a non-empty string'; one whose
  // "key" and "key_base64" named different keys loaded key_base64's without a word.
  it('takes "key_base64" alone, and refuses a line whose "key" and "key_base64" disagree', () => {
    assert.deepEqual(parseLine('{"key_base64":"cYA=","value":"v"}', 1, 1024, 10), {
      key: Buffer.from([0x71, 0x80]),
      value: Buffer.from('v'),
    });
    assert.deepEqual(parseLine('{"key":"ab","key_base64":"YWI=","value":"v"}', 1, 1024, 10), {
      key: Buffer.from('ab'),
      value: Buffer.from('v'),
    });
    assert.throws(
      () => parseLine('{"key":"ab","key_base64":"YWM=","value":"v"}', 7, 1024, 10),
      /line 7: "key" and "key_base64" name different keys \("key_base64" is the bytes of "ac"\)/,
    );
    assert.throws(
      () => parseLine('{"value":"v"}', 3, 1024, 10),
      /line 3: expected "key" \(a non-empty string\) or "key_base64"/,
    );
    assert.throws(() => parseLine('{"key":5,"value":"v"}', 3, 1024, 10), /line 3: "key" must be a string/);
  });
});
