/**
 * INCRBYFLOAT's long double arithmetic (src/worker/long-double.ts) gives what redis-server 7.0 on
 * x86-64 answers for the same value and increment, digit for digit, its refusals included.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addFloat } from '../../src/worker/long-double.js';

// [stored value, increment, redis-server 7.0.15's reply to SET k value; INCRBYFLOAT k increment]
const REDIS_SUMS: readonly [string, string, string][] = [
  ['0.1', '0.2', '0.3'],
  ['1000.3', '-0.0000001', '1000.29999989999999999'],
  ['123456789.123456789', '0.000000001', '123456789.12345678999554366'],
  ['-5.5', '5.5', '0'],
  ['1e20', '1', '100000000000000000000'],
  ['18446744073709551616', '1', '18446744073709551616'],
  ['0.333333333333333333333', '0.666666666666666666667', '1'],
  ['3.14159265358979323846', '2.71828182845904523536', '5.85987448204883847'],
  ['-0.1', '-0.2', '-0.3'],
  ['99999999999999999999', '1', '100000000000000000000'],
  [
    '1.7976931348623157e308',
    '1e308',
    '279769313486231570002352240441350078789299929179619934003987695617693370918830364684014944221042050987341155710361544171686148029276505307138777262321877129888036065002204239033812550598509174132739480498569620043582760541189365866551522561741435317031294527744011878159793174665688773926186886103199182225408',
  ],
  ['7', '0.1e-16', '7.00000000000000001'],
  ['1000.29999999999999999', '-1000.3', '0'],
  ['0.3', '1e3', '1000.29999999999999999'],
  ['3', '1.5e-20', '3'],
  ['0', '5.0e3', '5000'],
  ['1', '+5', '6'],
  ['1', '5.', '6'],
  ['1', '0x10', '17'],
  ['1', '0x1.8p3', '13'],
  ['00012', '1', '13'],
  ['1', '1.5E+3', '1501'],
  ['0', '-0', '0'],
];

// [stored value, increment, the error redis-server 7.0.15 answers]
const REDIS_REFUSALS: readonly [string | undefined, string, 'not-a-float' | 'not-finite'][] = [
  [undefined, 'inf', 'not-finite'],
  [undefined, '-Infinity', 'not-finite'],
  ['inf', '1', 'not-finite'],
  [undefined, 'nan', 'not-a-float'],
  [undefined, '1e5000', 'not-a-float'],
  [undefined, '1e-5000', 'not-a-float'],
  [undefined, '.', 'not-a-float'],
  [undefined, '1e', 'not-a-float'],
  [undefined, ' 1', 'not-a-float'],
  [undefined, '1_0', 'not-a-float'],
  [undefined, '', 'not-a-float'],
  ['abc', '1', 'not-a-float'],
  ['', '1', 'not-a-float'],
  [undefined, '0x', 'not-a-float'],
];

describe('addFloat', () => {
  it("prints redis-server's sums digit for digit (long double rounding, %.17Lf)", () => {
    for (const [value, delta, redis] of REDIS_SUMS)
      assert.deepEqual(addFloat(value, delta), { value: redis }, `${value} + ${delta}`);
  });

  it('refuses what redis-server refuses, with its reason', () => {
    for (const [value, delta, error] of REDIS_REFUSALS)
      assert.deepEqual(addFloat(value, delta), { error }, `${String(value)} + ${JSON.stringify(delta)}`);
  });

  it('counts a missing key as 0 and refuses a sum past the long double range', () => {
    assert.deepEqual(addFloat(undefined, '2.5'), { value: '2.5' });
    assert.deepEqual(addFloat('1e4932', '1e4932'), { error: 'not-finite' });
  });
});

// Subnormal long doubles (below 2^-16382, down to the quantum 2^-16445 ≈ 3.6e-4951): strtold
// reads them with ERANGE, which Redis refuses only for a 0 or an infinite result, so redis-server
// 7.0.15 takes them and prints their sums as "0". [stored value, increment, its reply or error]
const REDIS_SUBNORMALS: readonly [string | undefined, string, string][] = [
  [undefined, '-1e-4950', '0'],
  [undefined, '1e-4940', '0'],
  [undefined, '3.3e-4932', '0'],
  [undefined, '1.83e-4951', '0'],
  [undefined, '1.8e-4951', 'not-a-float'],
  [undefined, '1e-4951', 'not-a-float'],
  [undefined, '0x1p-16445', '0'],
  [undefined, '0x1.8p-16446', '0'],
  [undefined, '0x1p-16446', 'not-a-float'],
  ['0x1p-16382', '-0x1p-16445', '0'],
  ['1e-4950', '1', '1'],
  ['1e-4955', '1', 'not-a-float'],
  [undefined, '0e99999999999', '0'],
  [undefined, '0x0p99999999999', '0'],
  [undefined, '1e99999999999', 'not-a-float'],
  [undefined, '0x1p-99999999999', 'not-a-float'],
];

describe('addFloat below the normal range', () => {
  it('takes subnormals as redis-server does and refuses what rounds to 0', () => {
    for (const [value, delta, redis] of REDIS_SUBNORMALS)
      assert.deepEqual(
        addFloat(value, delta),
        redis === 'not-a-float' ? { error: redis } : { value: redis },
        `${String(value)} + ${delta}`,
      );
  });
});
