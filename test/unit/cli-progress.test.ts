/**
 * The bench progress line keeps redrawing on a terminal while reports arrive faster than the
 * redraw interval (the first version compared with the last *report* and drew only once), and logs
 * a line every LOG_MS when stderr is not a terminal.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LOG_MS, ProgressLine, REDRAW_MS } from '../../src/cli/progress-line.js';
import type { Progress } from '../../src/loadgen/loadgen.js';

const report = (elapsedS: number): Progress => ({
  phase: 'run',
  done: 10,
  errors: 0,
  elapsedS,
  totalS: 10,
  rate: 100,
});

/** drive feeds a report every 50 ms (as the load generator does) for `ms` and returns what was written. */
function drive(tty: boolean, ms: number): string[] {
  let now = 0;
  const writes: string[] = [];
  const line = new ProgressLine(
    (t) => writes.push(t),
    tty,
    () => now,
  );
  for (; now <= ms; now += 50) line.update(report(now / 1000));
  line.clear();
  return writes;
}

describe('bench progress line', () => {
  it('redraws on a terminal every REDRAW_MS while reports come every 50 ms', () => {
    const writes = drive(true, 2000);
    const draws = writes.filter((w) => w.includes('ops/s'));
    assert.equal(draws.length, Math.floor(2000 / REDRAW_MS) + 1);
    assert.ok(draws.every((w) => w.startsWith('\r\x1b[K') && !w.includes('\n')));
    assert.equal(writes.at(-1), '\r\x1b[K', 'the line is erased before the result');
  });

  it('prints a plain line every LOG_MS when not on a terminal', () => {
    const writes = drive(false, 2 * LOG_MS);
    assert.equal(writes.length, 3);
    assert.ok(writes.every((w) => w.endsWith('\n') && !w.includes('\r')));
  });
});
