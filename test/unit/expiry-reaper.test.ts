/**
 * ExpiryReaper's memory and its model (src/worker/expiry-reaper.ts): one remembered write per
 * store and key, the newest, however often the key is rewritten with a TTL; and, against a seeded
 * random stream of writes, exactly the newest write of each key is reaped, once, in expiry order.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Expiring, ExpiryReaper } from '../../src/worker/expiry-reaper.js';
import { seededRandom, testSeed } from '../helpers/random.js';

async function until(test: () => boolean, what: string, ms = 10000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('ExpiryReaper memory', () => {
  it('keeps one entry for a key rewritten with a TTL 100,000 times, and reaps only the newest write', async () => {
    let now = 1_000_000;
    const reaped: Expiring[] = [];
    const r = new ExpiryReaper(
      (e) => reaped.push(e),
      () => now,
    );
    try {
      // A session key refreshed by every request: each write expires 30 minutes after it.
      for (let seq = 1; seq <= 100_000; seq++)
        r.add({ store: 3, key: Buffer.from('session:1'), seq, expiresAtMs: now + 1_800_000 + seq });
      r.add({ store: 4, key: Buffer.from('session:1'), seq: 7, expiresAtMs: now + 10 });
      assert.equal(r.size, 2, 'one entry per store and key');
      // An older write of the key learned late (a read found it) changes nothing.
      r.add({ store: 3, key: Buffer.from('session:1'), seq: 5, expiresAtMs: now + 1 });
      assert.equal(r.size, 2);
      now += 10_000_000;
      // The timer was armed for the store 4 entry (10 ms): when it fires, both are due.
      await until(() => reaped.length === 2, 'both reaps');
      assert.deepEqual(
        reaped.map((e) => [e.store, e.seq]),
        [
          [4, 7],
          [3, 100_000],
        ],
      );
      assert.equal(r.size, 0);
    } finally {
      r.close();
    }
  });

  it('reaps the newest write of every key once, in expiry order, for random writes (seeded)', async () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    for (let round = 0; round < 20; round++) {
      let now = 5_000;
      const reaped: Expiring[] = [];
      const r = new ExpiryReaper(
        (e) => reaped.push(e),
        () => now,
      );
      try {
        const newest = new Map<string, Expiring>();
        let seq = 0;
        const writes = 1 + Math.floor(rnd() * 2000);
        for (let i = 0; i < writes; i++) {
          const store = Math.floor(rnd() * 3);
          const key = Buffer.from(`k${Math.floor(rnd() * (1 + rnd() * 50))}`);
          // Writes usually arrive in seq order; sometimes an older one arrives late (a read's re-queue).
          const s = rnd() < 0.1 && seq > 0 ? 1 + Math.floor(rnd() * seq) : ++seq;
          const e = { store, key, seq: s, expiresAtMs: now + Math.floor(rnd() * 40) - 10 };
          const id = `${store}:${key.toString()}`;
          const had = newest.get(id);
          if (had === undefined || s > had.seq) newest.set(id, e);
          r.add(e);
        }
        assert.equal(r.size, newest.size, `seed ${seed} round ${round}: size`);
        now += 1_000;
        await until(() => reaped.length >= newest.size && r.size === 0, `seed ${seed} round ${round}: reaps`);
        const want = [...newest.values()].map((e) => `${e.store}:${e.key.toString()}@${e.seq}`).sort();
        const got = reaped.map((e) => `${e.store}:${e.key.toString()}@${e.seq}`).sort();
        assert.deepEqual(got, want, `seed ${seed} round ${round}: the newest write of each key, once`);
        for (let i = 1; i < reaped.length; i++)
          assert.ok(
            reaped[i - 1]!.expiresAtMs <= reaped[i]!.expiresAtMs,
            `seed ${seed} round ${round}: expiry order`,
          );
      } finally {
        r.close();
      }
    }
  });
});
