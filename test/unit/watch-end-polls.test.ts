/**
 * A worker's watch polls at the stop (src/util/stop-wakes.ts, src/watch/watch-tap.ts): a feed's
 * poll parked on its stores' logs (`watch-polls`, `watch-read` with a wait) is answered at once
 * when the stop ends the worker's polls, with what the log holds, and a poll that comes later does
 * not park. Before, the stop waited for each parked poll to run out (FEED_WAIT_MS, 500 ms); here
 * the polls ask for 10 s, so one that was not woken would time the test out.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryLog } from '../../src/storage/memory-log.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { StopWakes } from '../../src/util/stop-wakes.js';
import { watchPolls, watchRead } from '../../src/watch/watch-tap.js';

/** LONG_WAIT_MS is the polls' wait: far past the bound each answer is held to. */
const LONG_WAIT_MS = 10000;
/**
 * ANSWER_BOUND_MS bounds a woken (or unparked) poll's answer. The answer is a turn or two, but the
 * claim is "at once, not after LONG_WAIT_MS": a bound a fifth of that wait separates the two with
 * room for a loaded machine (3 test files on 2 cores stall a turn for 100s of ms), where 200 ms did not.
 */
const ANSWER_BOUND_MS = 2000;

const key = (s: string): Buffer => Buffer.from(s);

/** timed resolves with `p`'s value and the ms it took. */
async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await p;
  return { value, ms: performance.now() - t0 };
}

describe('watch polls at the stop', () => {
  it('answers a parked watch-polls and watch-read at once, with what the log holds', async () => {
    const stores = [new MemoryStore(Date.now, new MemoryLog()), new MemoryStore(Date.now, new MemoryLog())];
    await stores[0]!.put(key('a'), key('1'));
    const end = new StopWakes();
    const polls = watchPolls(
      (i) => stores[i]!,
      {
        type: 'watch-polls',
        id: 1,
        reads: [
          { store: 0, after: 1, maxBytes: 1024 },
          { store: 1, after: 0, maxBytes: 1024 },
        ],
        waitMs: LONG_WAIT_MS,
      },
      end,
    );
    const read = watchRead(
      stores[1]!,
      { type: 'watch-read', id: 2, store: 1, after: 0, maxBytes: 1024, waitMs: LONG_WAIT_MS },
      end,
    );
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(end.size, 2, 'both polls are parked');
    // Timed from the stop, not from the polls' start: the 20 ms timer above may itself fire late.
    const t0 = performance.now();
    end.end();
    const [p, r] = await Promise.all([polls, read]);
    const ms = performance.now() - t0;
    assert.ok(ms < ANSWER_BOUND_MS, `the parked polls were answered ${ms} ms after the stop`);
    assert.equal(end.size, 0, 'no wake-up is kept once its poll is answered');
    assert.ok(p.type === 'watch-polls-result');
    assert.deepEqual(
      p.answers.map((a) => (a.ok ? { length: a.length, lastSeq: a.lastSeq, end: a.end } : a)),
      [
        { length: 0, lastSeq: 1, end: 1 },
        { length: 0, lastSeq: 0, end: 0 },
      ],
    );
    assert.ok(r.type === 'watch-read-result');
    assert.equal(r.lastSeq, 0);
    // The log waits woken by the stop stay registered until a record or their timer (a worker
    // that stops is ended): a record each lets this test's process end now.
    for (const s of stores) await s.put(key('z'), key('0'));
  });

  it('does not park a poll that comes after the stop began', async () => {
    const store = new MemoryStore(Date.now, new MemoryLog());
    const end = new StopWakes();
    end.end();
    const polls = await timed(
      watchPolls(
        () => store,
        { type: 'watch-polls', id: 1, reads: [{ store: 0, after: 0, maxBytes: 1024 }], waitMs: LONG_WAIT_MS },
        end,
      ),
    );
    const read = await timed(
      watchRead(
        store,
        { type: 'watch-read', id: 2, store: 0, after: 0, maxBytes: 1024, waitMs: LONG_WAIT_MS },
        end,
      ),
    );
    assert.ok(polls.ms < ANSWER_BOUND_MS, `a watch-polls after the stop took ${polls.ms} ms`);
    assert.ok(read.ms < ANSWER_BOUND_MS, `a watch-read after the stop took ${read.ms} ms`);
    assert.equal(end.size, 0);
  });

  it('still waits for a record when the stop has not begun, and is woken by it', async () => {
    const store = new MemoryStore(Date.now, new MemoryLog());
    const end = new StopWakes();
    // Whether the poll waited is read from the order of events, not a duration: on a loaded
    // machine the time from arming the timer to starting a clock is itself milliseconds.
    let written = false;
    setTimeout(() => {
      written = true;
      void store.put(key('b'), key('2'));
    }, 30);
    const polls = await timed(
      watchPolls(
        () => store,
        { type: 'watch-polls', id: 1, reads: [{ store: 0, after: 0, maxBytes: 1024 }], waitMs: LONG_WAIT_MS },
        end,
      ),
    );
    assert.ok(polls.value.type === 'watch-polls-result');
    const a = polls.value.answers[0]!;
    assert.ok(a.ok && a.lastSeq === 1 && a.length > 0, 'the poll brings the record written');
    assert.ok(written, `the poll waited for the record (answered after ${polls.ms} ms)`);
    assert.equal(end.size, 0, 'a poll its record woke keeps no wake-up');
  });
});
