/**
 * parseHttpDate (src/util/http-date.ts) takes the three HTTP-date forms of RFC 9110 section 5.6.7
 * and nothing else. Before it, Retry-After dates went through Date.parse: `May 1` was 1 May 2001
 * (a busy leader asked again every 0.1 s, not after the wait it asked for) and a `+0200` offset
 * was read as GMT.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_RETRY_AFTER_MS, retryAfter } from '../../src/cli/refusal-wait.js';
import { parseHttpDate } from '../../src/util/http-date.js';

const NOW = Date.UTC(2026, 11, 7, 8, 0, 0);
const AT = Date.UTC(1994, 10, 6, 8, 49, 37);

describe('HTTP-dates (RFC 9110 section 5.6.7)', () => {
  it('reads IMF-fixdate, RFC 850 and asctime as one instant', () => {
    assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT', NOW), AT);
    assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', NOW), AT);
    assert.equal(parseHttpDate('Sun Nov  6 08:49:37 1994', NOW), AT);
    assert.equal(
      parseHttpDate(new Date(NOW + 5000).toUTCString(), NOW),
      NOW + 5000,
      'what toUTCString writes',
    );
  });

  it('places an RFC 850 two-digit year within 50 years ahead of now, else in the century before', () => {
    assert.equal(parseHttpDate('Monday, 07-Dec-26 08:00:00 GMT', NOW), NOW);
    assert.equal(parseHttpDate('Monday, 07-Dec-76 08:00:00 GMT', NOW), Date.UTC(2076, 11, 7, 8, 0, 0));
    assert.equal(parseHttpDate('Wednesday, 07-Dec-77 08:00:00 GMT', NOW), Date.UTC(1977, 11, 7, 8, 0, 0));
  });

  it('refuses what Date.parse takes but no HTTP-date is', () => {
    for (const text of [
      'May 1',
      'Sun, 06 Nov 1994 08:49:37 +0200',
      'Sun, 06 Nov 1994 08:49:37',
      'sun, 06 Nov 1994 08:49:37 GMT',
      'Sun, 06 nov 1994 08:49:37 GMT',
      'Sun, 6 Nov 1994 08:49:37 GMT',
      'Sun,  06 Nov 1994 08:49:37 GMT',
      'Sun Nov 6 08:49:37 1994',
      'Sun Nov  6 08:49:37 1994 GMT',
      '1994-11-06T08:49:37Z',
      '2025',
      'Sun, 06 Nov 1994 8:49:37 GMT',
    ])
      assert.equal(parseHttpDate(text, NOW), undefined, text);
  });

  it('refuses a date that names no real time, or the wrong weekday', () => {
    assert.equal(parseHttpDate('Tue, 31 Feb 2026 08:00:00 GMT', NOW), undefined, '31 February');
    assert.equal(parseHttpDate('Mon, 07 Dec 2026 24:00:00 GMT', NOW), undefined, 'hour 24');
    assert.equal(parseHttpDate('Mon, 07 Dec 2026 08:60:00 GMT', NOW), undefined, 'minute 60');
    assert.equal(
      parseHttpDate('Tue, 07 Dec 2026 08:00:00 GMT', NOW),
      undefined,
      '7 December 2026 is a Monday',
    );
  });

  it('a busy refusal whose Retry-After is no HTTP-date waits the default, not "at once"', () => {
    assert.deepEqual(retryAfter('May 1', NOW), { ms: DEFAULT_RETRY_AFTER_MS, from: 'none' });
    assert.deepEqual(retryAfter('Mon, 07 Dec 2026 10:00:00 +0200', NOW), {
      ms: DEFAULT_RETRY_AFTER_MS,
      from: 'none',
    });
    assert.equal(retryAfter('Mon, 07 Dec 2026 08:00:03 GMT', NOW).ms, 3000);
  });
});
