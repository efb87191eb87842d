/**
 * RepeatLog on a hand-driven clock: a step retried 4 times a second for two minutes writes one line
 * when it starts failing, a reminder at most every 30 s with the count, and one line when it works
 * again; a failure without a cause of its own keeps the last one; a new run starts afresh.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  causeShape,
  MAX_CHANGES,
  type RepeatEvent,
  RepeatLog,
  runSummary,
} from '../../src/util/repeat-log.js';

/** recorder is a RepeatLog on a clock the test moves (`at`), and the events it wrote. */
function recorder(reminderMs?: number): { log: RepeatLog; events: RepeatEvent[]; clock: { at: number } } {
  const clock = { at: 1000 };
  const events: RepeatEvent[] = [];
  const log = new RepeatLog((e) => events.push(e), {
    now: () => clock.at,
    ...(reminderMs === undefined ? {} : { reminderMs }),
  });
  return { log, events, clock };
}

describe('RepeatLog', () => {
  it('writes one line as a step starts failing, a reminder every 30 s with the count, one as it recovers', () => {
    const { log, events, clock } = recorder();
    // A keepalive every 250 ms for 120 s, all failing: 480 failures.
    for (let i = 0; i < 480; i++) {
      log.failed(`refused ${i}`);
      clock.at += 250;
    }
    assert.equal(log.failing, true);
    log.succeeded();
    assert.deepEqual(
      events.map((e) => e.kind),
      ['started', 'reminder', 'reminder', 'reminder', 'recovered'],
    );
    assert.deepEqual(events[0], { kind: 'started', cause: 'refused 0' });
    // The failure at 30 s is the 121st (one every 250 ms from 0): it writes the first reminder.
    assert.deepEqual(events[1], { kind: 'reminder', cause: 'refused 120', failures: 121, sinceMs: 30000 });
    assert.deepEqual(events[3], { kind: 'reminder', cause: 'refused 360', failures: 361, sinceMs: 90000 });
    assert.deepEqual(events[4], { kind: 'recovered', cause: 'refused 479', failures: 480, sinceMs: 120000 });
    assert.equal(log.failing, false);
  });

  it('writes nothing for successes outside a run of failures, and starts each run afresh', () => {
    const { log, events, clock } = recorder(1000);
    log.succeeded();
    log.failed('first');
    clock.at += 500;
    log.succeeded();
    log.succeeded();
    clock.at += 100;
    log.failed('second 1');
    clock.at += 999;
    log.failed('second 2');
    assert.deepEqual(events, [
      { kind: 'started', cause: 'first' },
      { kind: 'recovered', cause: 'first', failures: 1, sinceMs: 500 },
      { kind: 'started', cause: 'second 1' },
    ]);
  });

  it('keeps the last cause through failures that bring none (a call a breaker held back)', () => {
    const { log, events, clock } = recorder(1000);
    log.failed(undefined);
    log.failed('ECONNREFUSED');
    clock.at += 1000;
    log.failed(undefined);
    assert.deepEqual(events, [
      { kind: 'started', cause: 'no cause reported' },
      { kind: 'reminder', cause: 'ECONNREFUSED', failures: 3, sinceMs: 1000 },
    ]);
  });

  it('writes a new cause at once, once per run, and not a change of its numbers', () => {
    const { log, events, clock } = recorder(1000);
    log.failed('no answer (page 12, after 0.001 s)');
    clock.at += 100;
    log.failed('no answer (page 4077, after 1.002 s)');
    clock.at += 100;
    log.failed('permission denied');
    clock.at += 100;
    log.failed('no answer (page 9, after 0.5 s)');
    clock.at += 100;
    log.failed('permission denied');
    assert.deepEqual(events, [
      { kind: 'started', cause: 'no answer (page 12, after 0.001 s)' },
      {
        kind: 'changed',
        cause: 'permission denied',
        before: 'no answer (page 4077, after 1.002 s)',
        failures: 3,
        sinceMs: 200,
      },
    ]);
    assert.equal(causeShape('gave up after 0.001 s at 0x7f3a'), causeShape('gave up after 1.25 s at 0x11'));
  });

  it('writes at most MAX_CHANGES new causes in one run, then leaves them to the reminders', () => {
    const { log, events } = recorder(1000);
    for (let i = 0; i < 3 * MAX_CHANGES; i++) log.failed(`cause ${String.fromCharCode(97 + i)}`);
    assert.equal(events.filter((e) => e.kind === 'changed').length, MAX_CHANGES);
  });

  it('runSummary counts the failures and the time', () => {
    assert.equal(runSummary(1, 250), '1 failure over 0.3 s');
    assert.equal(runSummary(121, 30000), '121 failures over 30.0 s');
  });
});
