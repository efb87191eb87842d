/**
 * INFO keyspace's census of the keys with an expiry (src/worker/expiry-census.ts on a worker,
 * src/resp/keyspace-expiries.ts on the main thread): a seeded model of a store's keys (with and
 * without expiries, passed or to come, in the shard's slots or left over from another layout),
 * walked in pages of random sizes, must count exactly the keys in the shard's slots whose expiry
 * is still to come and sum their times left; and a census is reused only while nothing was written
 * (or, a slow one of more than a page of some store, for ten times its duration).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyspaceExpiries, REUSE_MAX_MS } from '../../src/resp/keyspace-expiries.js';
import type { LocalTarget } from '../../src/resp/key-route.js';
import { slotOfBytes } from '../../src/routing/slot.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import type { WorkerPool } from '../../src/server/worker-pool.js';
import { expiryCensus } from '../../src/worker/expiry-census.js';
import { seededRandom, testSeed } from '../helpers/random.js';

const NOW = 1_800_000_000_000;
const RANGE = { first: 0, last: 8191 };

describe('expiryCensus on a store', () => {
  it('counts nothing of a store that is not open, so INFO still answers on a node with a failed store', () => {
    const r = expiryCensus(undefined, RANGE, {
      type: 'expiry-census',
      id: 3,
      store: 0,
      after: null,
      limit: 10,
    });
    assert.deepEqual(r, { type: 'expiry-census-result', id: 3, ok: true, count: 0, ttlSumMs: 0, next: null });
  });

  it('counts the keys of its slots with an expiry to come, over pages of any size (seeded model)', async () => {
    const seed = testSeed();
    const rand = seededRandom(seed);
    for (let round = 0; round < 30; round++) {
      const store = new MemoryStore(() => NOW);
      let count = 0;
      let ttlSum = 0;
      const n = Math.floor(rand() * 300);
      for (let i = 0; i < n; i++) {
        const key = Buffer.from(`k${Math.floor(rand() * 1000)}:${i}`);
        const kind = Math.floor(rand() * 4);
        // none, to come (1 ms .. ten years), passed, exactly now (passed: a read hides it).
        const at = [0, NOW + 1 + Math.floor(rand() * 315360000000), NOW - 1 - Math.floor(rand() * 1e6), NOW][
          kind
        ]!;
        await store.put(key, Buffer.from('v'), at);
        const slot = slotOfBytes(key);
        if (at > NOW && slot >= RANGE.first && slot <= RANGE.last) {
          count++;
          ttlSum += at - NOW;
        }
      }
      let after: Uint8Array | null = null;
      let got = 0;
      let gotSum = 0;
      for (let pages = 0; pages <= n + 1; pages++) {
        const r = expiryCensus(
          store,
          RANGE,
          { type: 'expiry-census', id: 1, store: 0, after, limit: 1 + Math.floor(rand() * 50) },
          NOW,
        );
        assert.equal(r.type, 'expiry-census-result');
        got += r.count;
        gotSum += r.ttlSumMs;
        after = r.next;
        if (after === null) break;
      }
      assert.equal(after, null, `seed ${seed} round ${round}: the walk ended`);
      assert.equal(got, count, `seed ${seed} round ${round}: keys with an expiry to come`);
      assert.equal(gotSum, ttlSum, `seed ${seed} round ${round}: their times left`);
    }
  });
});

/** FakePool answers expiry-census pages (`pages` per store, the last counting) and counts the pages asked. */
class FakePool {
  seqs = new Map<number, number>();
  calls = 0;
  pages = 1;
  lastSeq(store: number): number {
    return this.seqs.get(store) ?? 0;
  }
  call(_worker: number, msg: { type: string; store?: number; after?: Uint8Array | null }): Promise<unknown> {
    this.calls++;
    const page = msg.after?.[0] ?? 0;
    const last = page + 1 >= this.pages;
    return Promise.resolve({
      type: 'expiry-census-result',
      id: 0,
      ok: true,
      count: last ? (msg.store === 1 ? 2 : 1) : 0,
      ttlSumMs: last ? 3000 : 0,
      next: last ? null : Uint8Array.of(page + 1),
    });
  }
}

/** slowPool is `pool` whose every page takes `ms` of the clock `now` reads. */
function slowPool(pool: FakePool, ms: number, now: { ms: number }): Pick<WorkerPool, 'call' | 'lastSeq'> {
  const slow = {
    lastSeq: (s: number) => pool.lastSeq(s),
    call: (w: number, m: { type: string; store?: number; after?: Uint8Array | null }) => {
      now.ms += ms;
      return pool.call(w, m);
    },
  };
  return slow as unknown as Pick<WorkerPool, 'call' | 'lastSeq'>;
}

const targets = [
  { local: true, worker: 0, store: 0 },
  { local: true, worker: 0, store: 1 },
] as unknown as LocalTarget[];

describe('KeyspaceExpiries', () => {
  it('walks again once a store was written, reuses a census while nothing was, and shares one walking', async () => {
    const pool = new FakePool();
    let now = NOW;
    const e = new KeyspaceExpiries(pool as unknown as Pick<WorkerPool, 'call' | 'lastSeq'>, () => now);
    const [a, b] = await Promise.all([e.count(targets), e.count(targets)]);
    assert.deepEqual(a, { expires: 3, avgTtlMs: 2000 });
    assert.deepEqual(b, a);
    assert.equal(pool.calls, 2, 'one walk (a page per store) for two INFOs at once');
    now += 10;
    assert.deepEqual(await e.count(targets), { expires: 3, avgTtlMs: 1990 }, 'reused, its time left lowered');
    assert.equal(pool.calls, 2);
    pool.seqs.set(1, 5);
    await e.count(targets);
    assert.equal(pool.calls, 4, 'a write moved a seq: walked again');
    now += REUSE_MAX_MS;
    await e.count(targets);
    assert.equal(pool.calls, 6, 'nothing written, but reused for at most REUSE_MAX_MS');
  });

  it('reuses a census of more than a page per store that took long for ten times its duration, even after writes', async () => {
    const pool = new FakePool();
    pool.pages = 2;
    const now = { ms: NOW };
    // Each page takes 50 ms: a census of two stores of two pages takes 200 ms.
    const e = new KeyspaceExpiries(slowPool(pool, 50, now), () => now.ms);
    assert.deepEqual(await e.count(targets), { expires: 3, avgTtlMs: 2000 });
    assert.equal(pool.calls, 4);
    pool.seqs.set(0, 9);
    now.ms += 1900;
    await e.count(targets);
    assert.equal(pool.calls, 4, 'within 10 x 200 ms');
    now.ms += 200;
    await e.count(targets);
    assert.equal(pool.calls, 8, 'past it');
  });

  it('walks again after a write when a census of a page per store took long (a small node on a loaded machine)', async () => {
    const pool = new FakePool();
    const now = { ms: NOW };
    // A page per store, each answered 150 ms later: the time is the machine's, not the keys'.
    const e = new KeyspaceExpiries(slowPool(pool, 150, now), () => now.ms);
    await e.count(targets);
    assert.equal(pool.calls, 2);
    now.ms += 10;
    await e.count(targets);
    assert.equal(pool.calls, 2, 'nothing written: reused');
    pool.seqs.set(1, 4);
    now.ms += 10;
    await e.count(targets);
    assert.equal(pool.calls, 4, 'a write moved a seq: walked again, so INFO counts it');
  });
});
