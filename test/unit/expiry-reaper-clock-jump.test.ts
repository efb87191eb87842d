/**
 * ExpiryReaper (src/worker/expiry-reaper.ts) against a wall clock stepped forward.
 *
 * Reads hide an expired key by the wall clock (Date.now, src/storage/store.ts), but the reaper
 * arms one setTimeout for `expiresAtMs - clock()` and setTimeout runs on the monotonic clock. When
 * the wall clock steps forward (an NTP step, a VM resumed), every key whose expiry the step
 * passed is already invisible to reads on the leader and every replica, yet its TYPE_EXPIRE
 * record, the event watchers and replicas see, is written only when the monotonic timer runs
 * out: as late as the step was long (a timer armed for an hour fires an hour later), unless the
 * timer is capped (RECHECK_MS) so that the reaper looks at the wall clock again at least every second.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Expiring, ExpiryReaper } from '../../src/worker/expiry-reaper.js';

describe('ExpiryReaper when the wall clock steps forward', () => {
  it('reaps a write whose expiry the step passed within a few seconds, not when the old timer runs out', async () => {
    let now = 1_000_000;
    const reaped: Expiring[] = [];
    const r = new ExpiryReaper(
      (e) => reaped.push(e),
      () => now,
    );
    try {
      r.add({ store: 0, key: Buffer.from('session:1'), seq: 1, expiresAtMs: now + 60_000 });
      // The wall clock steps one minute forward: the key is now expired for every read.
      now += 60_001;
      const deadline = Date.now() + 3000;
      while (reaped.length === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
      assert.equal(
        reaped.length,
        1,
        'the key is expired by the clock reads use, but its expire record waits for the monotonic timer (60 s)',
      );
    } finally {
      r.close();
    }
  });
});
