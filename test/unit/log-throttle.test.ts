/**
 * LogThrottle on a hand-driven clock: the first event of a key is written at once, the rest of its
 * window summed up in one line when the window ends, a quiet window forgets the key, keys are
 * throttled apart, and keys beyond the bound share one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LogThrottle, type ThrottleClock } from '../../src/util/log-throttle.js';

/** ManualClock runs scheduled calls when `advance` passes their time. */
class ManualClock implements ThrottleClock {
  at = 0;
  private timers: { due: number; fn: () => void; live: boolean }[] = [];

  now(): number {
    return this.at;
  }

  schedule(fn: () => void, ms: number): () => void {
    const t = { due: this.at + ms, fn, live: true };
    this.timers.push(t);
    return () => {
      t.live = false;
    };
  }

  /** pending counts the scheduled calls not yet run nor cancelled. */
  get pending(): number {
    return this.timers.filter((t) => t.live).length;
  }

  advance(ms: number): void {
    const end = this.at + ms;
    for (let guard = 0; guard < 10_000; guard++) {
      const next = this.timers.filter((t) => t.live && t.due <= end).sort((a, b) => a.due - b.due)[0];
      if (next === undefined) break;
      next.live = false;
      this.at = next.due;
      next.fn();
    }
    this.at = end;
  }
}

type Line = [detail: string, more: number, sinceMs: number];

function setup(maxKeys?: number): {
  clock: ManualClock;
  lines: Line[];
  shared: string[];
  t: LogThrottle<string>;
} {
  const clock = new ManualClock();
  const lines: Line[] = [];
  // the details of the lines written for OTHER_KEY (`shared`)
  const shared: string[] = [];
  const t = new LogThrottle<string>(
    (d, more, since, isShared) => {
      lines.push([d, more, since]);
      if (isShared) shared.push(d);
    },
    { windowMs: 60_000, clock, ...(maxKeys === undefined ? {} : { maxKeys }) },
  );
  return { clock, lines, shared, t };
}

describe('LogThrottle', () => {
  it('writes the first event at once and sums up the rest of its window in one line', () => {
    const { clock, lines, t } = setup();
    for (let i = 0; i < 1000; i++) {
      t.note('pull a', `e${i}`);
      clock.advance(10);
    }
    assert.deepEqual(lines, [['e0', 0, 0]], '1000 events in 10 s: one line');
    clock.advance(50_000);
    assert.deepEqual(
      lines[1],
      ['e999', 999, 60_000],
      'the window ends: how many since, with the last detail',
    );
    assert.equal(lines.length, 2);
  });

  it('writes at most one line a window while the events go on, and none for a quiet window', () => {
    const { clock, lines, t } = setup();
    for (let s = 0; s < 300; s++) {
      t.note('k', `s${s}`);
      clock.advance(1000);
    }
    // 300 s of one event a second: the first, then one summary as each minute ends.
    assert.deepEqual(
      lines.map((l) => l[1]),
      [0, 59, 60, 60, 60, 60],
    );
    clock.advance(60_000);
    assert.equal(lines.length, 6, 'a quiet window writes nothing');
    assert.equal(t.tracked, 0, 'and forgets the key');
    assert.equal(clock.pending, 0);
    t.note('k', 'again');
    assert.deepEqual(lines[6], ['again', 0, 0], 'so the next event is written at once');
  });

  it('throttles keys apart', () => {
    const { lines, t } = setup();
    t.note('pull a', 'a1');
    t.note('pull b', 'b1');
    t.note('pull a', 'a2');
    t.note('snapshot a', 's1');
    assert.deepEqual(
      lines.map((l) => l[0]),
      ['a1', 'b1', 's1'],
    );
  });

  it('tracks at most maxKeys keys; events of further keys share one, so lines stay bounded', () => {
    const { clock, lines, shared, t } = setup(3);
    for (let i = 0; i < 100; i++) t.note(`peer-${i}`, `p${i}`);
    assert.equal(t.tracked, 4, 'three keys and OTHER_KEY');
    assert.deepEqual(
      lines.map((l) => l[0]),
      ['p0', 'p1', 'p2', 'p3'],
    );
    clock.advance(60_000);
    assert.deepEqual(lines.slice(4), [['p99', 96, 60_000]], "OTHER_KEY's summary: the 96 after p3");
    assert.deepEqual(shared, ['p3', 'p99'], "OTHER_KEY's lines, and only those, are marked shared");
  });

  it('close writes the pending summaries and stops the timers', () => {
    const { clock, lines, t } = setup();
    t.note('k', 'a');
    t.note('k', 'b');
    clock.advance(5000);
    t.close();
    assert.deepEqual(lines, [
      ['a', 0, 0],
      ['b', 1, 5000],
    ]);
    assert.equal(clock.pending, 0);
    assert.equal(t.tracked, 0);
  });

  it("close writes every key's count (OTHER_KEY's marked shared), none for a quiet key, and only once", () => {
    // What a node's stop calls (src/http/front-door.ts, closeLogs): each count is one line.
    const { clock, lines, shared, t } = setup(2);
    t.note('quiet', 'q');
    for (let i = 0; i < 3; i++) t.note('busy', `b${i}`);
    for (let i = 0; i < 4; i++) t.note(`peer-${i}`, `p${i}`);
    clock.advance(2000);
    lines.length = 0;
    shared.length = 0;
    t.close();
    assert.deepEqual(lines, [
      ['b2', 2, 2000],
      ['p3', 3, 2000],
    ]);
    assert.deepEqual(shared, ['p3']);
    t.close();
    assert.equal(lines.length, 2, 'a second close writes nothing');
    assert.equal(clock.pending, 0);
  });
});
