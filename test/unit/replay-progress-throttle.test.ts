/**
 * The throttle of the commit log replay's progress lines (src/storage/replay-progress.ts): a line
 * once REPLAY_PROGRESS_MS passed since the last (the first after one interval), none for a short
 * replay, and one at the end only after progress lines.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { ReplayProgress } from '../../src/storage/replay-progress.js';

function capture(): { log: pino.Logger; lines: { msg: string }[] } {
  const lines: { msg: string }[] = [];
  const log = pino(
    { level: 'info' },
    { write: (s: string) => void lines.push(JSON.parse(s) as { msg: string }) },
  );
  return { log, lines };
}

describe('ReplayProgress', () => {
  it('logs a line only once the interval has passed since the last, none for a short replay', () => {
    const { log, lines } = capture();
    let t = 0;
    const p = new ReplayProgress(log, 'log/w0', 2000, () => t);
    p.frame(100, 1000);
    t = 1999;
    p.frame(200, 1000);
    assert.equal(lines.length, 0);
    t = 2000;
    p.records = 7;
    p.frame(300, 1000);
    t = 3000;
    p.frame(400, 1000);
    assert.deepEqual(
      lines.map((l) => l.msg),
      // 300 of 1000 bytes in 2 s: 700 left at 150 bytes/s, 4.7 s, said as 5.
      ['replaying the commit log log/w0: 0.0 of 0.0 MiB (30%), 7 records, about 5 s left'],
    );
    p.done();
    assert.equal(lines.length, 2);
    const quiet = capture();
    const q = new ReplayProgress(quiet.log, 'log/w0', 2000, () => 0);
    q.frame(1000, 1000);
    q.done();
    assert.equal(quiet.lines.length, 0);
  });
});
