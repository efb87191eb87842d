/**
 * A lock with a lease, built as an application would with the client library (docs/api.md,
 * "Versions" and "TTL"): acquire is a put with `ifNoneMatch` and `ttlMs`, renew a put with
 * `ifMatch: <the version held>` and `ttlMs`, release a delete with `ifMatch`; a client that lost
 * the race waits on a watch of the lock key for its `delete` or `expire`, then tries again.
 *
 * Claims, over seeded random rounds (DISTKV_SEED replays one): among clients racing to acquire,
 * exactly one wins; a renewal sent after the lease ran out is refused (412) and does not bring the
 * key back, whether or not someone took the lock meanwhile; the holder's renewals before then
 * each succeed with a new version; a release or renewal by a holder that lost the lock never
 * touches the new holder's; and a waiter sees the lock go (delete or expire) and acquires it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient, PreconditionFailedError } from '../../src/client/index.js';
import { keyInShard, startHostedPair, type HostedPair } from '../helpers/hosted-pair.js';
import { seededRandom, testSeed } from '../helpers/random.js';

let pair: HostedPair | undefined;
let clients: DistkvClient[] = [];

before(async () => {
  pair = await startHostedPair();
  clients = [0, 1, 2, 3].map(() => new DistkvClient({ urls: [`http://${pair!.A}`] }));
});

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await pair?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** refused runs a conditional call and says whether it was refused with a 412 (other errors fail the test). */
async function refused(call: Promise<unknown>): Promise<boolean> {
  try {
    await call;
    return false;
  } catch (err) {
    if (err instanceof PreconditionFailedError) return true;
    throw err;
  }
}

describe('a lock with a lease', () => {
  it('is won by exactly one of the clients racing to acquire it, round after round', async () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    for (let round = 0; round < 60; round++) {
      const key = keyInShard(pair!.shardMap, round % 2, `race-${seed}-${round}-`);
      const ttlMs = 1 + Math.floor(rnd() * 3000);
      const outcomes = await Promise.allSettled(
        clients.map((c, i) => c.putVersioned(key, `holder-${i}`, { ifNoneMatch: true, ttlMs })),
      );
      const winners = outcomes.filter((o) => o.status === 'fulfilled');
      const losers = outcomes.filter(
        (o) => o.status === 'rejected' && o.reason instanceof PreconditionFailedError,
      );
      // A short lease may run out between two creates (a slow machine): then a later one may win too.
      if (ttlMs >= 1000)
        assert.equal(winners.length, 1, `seed ${seed} round ${round}: ${winners.length} winners`);
      else assert.ok(winners.length >= 1, `seed ${seed} round ${round}: no winner`);
      assert.equal(winners.length + losers.length, clients.length, `seed ${seed}: a call failed otherwise`);
    }
  });

  it('refuses a renewal that comes after the lease ran out, without bringing the key back', async () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    const [holder, other] = clients as [DistkvClient, DistkvClient];
    let late = 0;
    let skipped = 0;
    for (let round = 0; round < 20; round++) {
      const key = keyInShard(pair!.shardMap, 0, `renew-${seed}-${round}-`);
      const ttlMs = 200 + Math.floor(rnd() * 200);
      let sent = Date.now();
      let version = await holder.putVersioned(key, 'mine', { ifNoneMatch: true, ttlMs });
      // The node counts a lease from when it read the write: after it was sent, before its answer
      // came. So the lease surely runs until sent + ttl, and has surely run out after answered + ttl.
      let deadline = Date.now() + ttlMs;
      let renewedInTime = true;
      for (let i = 0; i < 2 && renewedInTime; i++) {
        await sleep(Math.floor(ttlMs / 4));
        const renewSent = Date.now();
        try {
          const next = await holder.putVersioned(key, 'mine', { ifMatch: version, ttlMs });
          assert.notEqual(next, version);
          version = next;
        } catch (err) {
          // A renewal answered before sent + ttl reached the node inside the lease: it must succeed.
          // One answered later (a loaded machine) may have come after the lease ran out: the
          // round proves nothing either way and is not counted.
          if (!(err instanceof PreconditionFailedError) || Date.now() < sent + ttlMs) throw err;
          renewedInTime = false;
        }
        sent = renewSent;
        deadline = Date.now() + ttlMs;
      }
      if (!renewedInTime) {
        skipped++;
        continue;
      }
      // Then let it run out, and renew late: sometimes after another client took the lock.
      await sleep(Math.max(0, deadline - Date.now()) + 2 + Math.floor(rnd() * 10));
      const taken = rnd() < 0.5;
      if (taken) await other.putVersioned(key, 'theirs', { ifNoneMatch: true, ttlMs: 5000 });
      assert.ok(
        await refused(holder.putVersioned(key, 'mine', { ifMatch: version, ttlMs })),
        `seed ${seed} round ${round}: a renewal after the lease ran out succeeded`,
      );
      assert.equal(await holder.getString(key), taken ? 'theirs' : undefined, `seed ${seed} round ${round}`);
      // A release by the holder that lost it does not delete the new holder's lock either.
      assert.ok(await refused(holder.delete(key, { ifMatch: version })));
      assert.equal(await holder.getString(key), taken ? 'theirs' : undefined);
      late++;
    }
    assert.equal(late + skipped, 20);
    assert.ok(late >= 5, `only ${late} of 20 rounds renewed in time (seed ${seed})`);
  });

  it('hands the lock to a waiter watching its key once it is released or expires', async () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    const [holder, waiter] = clients as [DistkvClient, DistkvClient];
    for (let round = 0; round < 12; round++) {
      const key = keyInShard(pair!.shardMap, round % 2, `hand-${seed}-${round}-`);
      const release = rnd() < 0.5;
      // A lease long enough that the waiter's first try surely comes inside it, even on a loaded
      // machine: 1 s when the test waits for it to run out, 5 s when the holder releases it.
      const ttlMs = release ? 5000 : 1000;
      const version = await holder.putVersioned(key, 'holder', { ifNoneMatch: true, ttlMs });
      const stop = new AbortController();
      const acquired = (async (): Promise<string> => {
        assert.ok(await refused(waiter.putVersioned(key, 'waiter', { ifNoneMatch: true, ttlMs: 5000 })));
        for await (const change of waiter.watch(key, { from: version, signal: stop.signal })) {
          if (change.key !== key || (change.type !== 'delete' && change.type !== 'expire')) continue;
          await waiter.putVersioned(key, 'waiter', { ifNoneMatch: true, ttlMs: 5000 });
          return change.type;
        }
        return 'the watch ended';
      })();
      await sleep(30);
      if (release) assert.equal(await holder.delete(key, { ifMatch: version }), true);
      const how = await Promise.race([acquired, sleep(5000).then(() => 'nothing within 5 s')]);
      stop.abort();
      assert.equal(how, release ? 'delete' : 'expire', `seed ${seed} round ${round}`);
      assert.equal(await holder.getString(key), 'waiter');
      assert.ok(await refused(holder.putVersioned(key, 'holder', { ifMatch: version, ttlMs })));
    }
  });
});
