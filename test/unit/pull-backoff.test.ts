/**
 * PullBackoff (src/replication/pull-backoff.ts): a follower's retries double from 50 ms and stop
 * growing at BACKOFF_MAX_MS (1 s), so a replica finds a leader back from a restart within about a
 * second (at the old 5 s cap it took up to 5 s, and `?w=1` writes timed out meanwhile); `reset`
 * brings the wait back to the minimum and `wake` ends one at once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BACKOFF_MAX_MS, PullBackoff } from '../../src/replication/pull-backoff.js';

/** timed is how long `p` took, in ms. */
async function timed(p: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await p();
  return performance.now() - t0;
}

describe('PullBackoff', () => {
  it('doubles its wait up to a second, no further', async () => {
    const b = new PullBackoff();
    const waits: number[] = [];
    // 50, 100, 200, 400, 800, then the cap.
    for (let i = 0; i < 7; i++) waits.push(await timed(() => b.wait()));
    assert.ok(waits[0]! < 500, `the first wait is short: ${waits.map(Math.round).join(', ')} ms`);
    for (const w of waits.slice(5))
      assert.ok(
        w >= BACKOFF_MAX_MS - 5 && w < 1800,
        `a capped wait takes about a second (${BACKOFF_MAX_MS} ms): ${waits.map(Math.round).join(', ')} ms`,
      );
  });

  it('starts again from the minimum after reset, and a wake ends a wait at once', async () => {
    const b = new PullBackoff();
    for (let i = 0; i < 3; i++) await b.wait();
    b.reset();
    assert.ok((await timed(() => b.wait())) < 500, 'back to the minimum');
    for (let i = 0; i < 3; i++) await b.wait();
    const waiting = timed(() => b.wait());
    setTimeout(() => {
      b.wake();
    }, 20);
    assert.ok((await waiting) < 500, 'woken');
  });
});
