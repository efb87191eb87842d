/**
 * What `distkv backup` and `distkv restore` say of each refusal they wait out (src/cli/refusal-wait.ts):
 * every waited refusal says what it is, a busy leader is asked again as it is after its
 * Retry-After, and a node's Retry-After is read within bounds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MOVING } from '../../src/cli/leader-wait.js';
import {
  DEFAULT_RETRY_AFTER_MS,
  MAX_RETRY_AFTER_MS,
  MIN_RETRY_AFTER_MS,
  notWaitedLine,
  refusalWait,
  retryAfter,
  retryAfterMs,
  waitLine,
  waitSubject,
} from '../../src/cli/refusal-wait.js';
import { isErrorCode } from '../../src/errors.js';

describe('refusals backup and restore wait out', () => {
  it('says what each waited refusal is, none of them a bare "refused"', () => {
    for (const code of MOVING) {
      assert.ok(isErrorCode(code), code);
      assert.notEqual(refusalWait(code).meaning, 'refused', `${code} says what it is`);
    }
  });

  it('asks a busy leader again, as it is, after its Retry-After; the others are looked for in a new map', () => {
    assert.equal(refusalWait('REPLICATION_BUSY').sameNode, true);
    for (const code of MOVING)
      if (isErrorCode(code) && code !== 'REPLICATION_BUSY')
        assert.equal(refusalWait(code).sameNode, false, code);
    const line = waitLine('REPLICATION_BUSY', '10.0.0.1:8080', retryAfter('2'));
    assert.match(
      line,
      /^REPLICATION_BUSY at 10\.0\.0\.1:8080: its leader is busy .*; asking it again every 2 s/,
    );
    assert.doesNotMatch(line, /looking for/);
  });

  it("reads a Retry-After's seconds, capped, and takes 1 s for one it cannot read", () => {
    assert.equal(retryAfterMs('1'), 1000);
    assert.equal(retryAfterMs(['3']), 3000);
    assert.equal(retryAfterMs('0'), MIN_RETRY_AFTER_MS, 'never back to back');
    assert.equal(retryAfterMs('86400'), MAX_RETRY_AFTER_MS);
    assert.equal(retryAfterMs(undefined), DEFAULT_RETRY_AFTER_MS);
    assert.equal(retryAfterMs('-1'), DEFAULT_RETRY_AFTER_MS);
    assert.equal(retryAfterMs('soon'), DEFAULT_RETRY_AFTER_MS);
  });

  it("takes a Retry-After date as its distance from now, within the same bounds, and says so (it said 'every 1 s')", () => {
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    const at = (s: number): string => new Date(now + s * 1000).toUTCString();
    assert.equal(retryAfterMs(at(5), now), 5000);
    assert.equal(
      retryAfterMs(at(-60), now),
      MIN_RETRY_AFTER_MS,
      'a date already past: at once, not back to back',
    );
    assert.equal(retryAfterMs(at(3600), now), MAX_RETRY_AFTER_MS);
    assert.equal(retryAfterMs(`  ${at(2)} `, now), 2000);
    // The two obsolete forms a recipient takes too (RFC 9110 section 5.6.7); asctime's is GMT.
    assert.equal(retryAfterMs('Wednesday, 21-Oct-15 07:28:03 GMT', now), 3000);
    assert.equal(retryAfterMs('Wed Oct 21 07:28:04 2015', now), 4000);
    const line = (s: number): string => waitLine('REPLICATION_BUSY', '10.0.0.1:8080', retryAfter(at(s), now));
    assert.match(line(5), /; asking it again in 5 s \(the date its Retry-After names\)$/);
    assert.doesNotMatch(line(5), /every/, 'a date names one instant, not a period');
    assert.match(
      line(3600),
      /in 30 s \(the date its Retry-After names, which asked 3600 s: the most it waits\)$/,
    );
    assert.match(
      line(-60),
      /in 0\.1 s \(the date its Retry-After names, which asked 0 s: the least it waits\)$/,
    );
    // Each refusal names its own date: the wait goes on, it is not a new one (drawn once).
    assert.equal(
      waitSubject('REPLICATION_BUSY', '10.0.0.1:8080', retryAfter(at(2), now)),
      waitSubject('REPLICATION_BUSY', '10.0.0.1:8080', retryAfter(at(1), now)),
    );
  });

  it('says when the bounds changed the delay a node asked for, and when it sent none', () => {
    const busy = (h: string | undefined): string => waitLine('REPLICATION_BUSY', 'n:1', retryAfter(h));
    assert.match(busy('1'), /asking it again every 1 s \(its Retry-After\)$/);
    assert.match(busy('86400'), /every 30 s \(its Retry-After, which asked 86400 s: the most it waits\)$/);
    assert.match(busy('0'), /every 0\.1 s \(its Retry-After, which asked 0 s: the least it waits\)$/);
    assert.match(busy(undefined), /every 1 s \(it sent no readable Retry-After\)$/);
  });

  it('names a refusal not waited for with --wait-ms 0 plainly: what, where, and how to wait for it', () => {
    const line = notWaitedLine(
      'REPLICATION_BUSY',
      '10.0.0.1:8080',
      'shard 0 already has 2 snapshot streams open',
    );
    assert.match(
      line,
      /^REPLICATION_BUSY at 10\.0\.0\.1:8080: its leader is busy .*\(shard 0 already has 2 snapshot streams open\)/,
    );
    assert.match(line, /--wait-ms N waits up to N ms for it$/);
    assert.doesNotMatch(line, /asking it again|after 0 s|looking for/);
  });
});
