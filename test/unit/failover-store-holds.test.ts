/**
 * StoreHolds (src/server/store-holds.ts): the owners of a replica store's hold, kept apart on the
 * main thread, over a fake worker pool that records the fence messages it gets. A failover's
 * claim refuses another's; the coordinator's hold is no claim; a release ends only its owner's
 * hold, and the worker is released only once the last owner lets go; a hold that ran out counts
 * no more; a role change forgets them all.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistkvError } from '../../src/errors.js';
import { FOLLOW_HOLD, StoreHolds } from '../../src/server/store-holds.js';
import type { WorkerPool } from '../../src/server/worker-pool.js';

/** FakePool answers `fence` like a replica's worker at seq 7 and records each call. */
function fakePool(): { pool: WorkerPool; calls: { on: boolean; ms?: number }[] } {
  const calls: { on: boolean; ms?: number }[] = [];
  const pool = {
    call: (_worker: number, msg: { type: string; on: boolean; ms?: number }) => {
      calls.push({ on: msg.on, ...(msg.ms === undefined ? {} : { ms: msg.ms }) });
      return Promise.resolve({ type: 'fence-result', id: 0, ok: true, lastSeq: 7 });
    },
    lastSeq: () => 7,
  } as unknown as WorkerPool;
  return { pool, calls };
}

const st = { index: 3, worker: 0 };

describe('StoreHolds', () => {
  it("refuses a failover's claim while another's lasts, naming it and its time left", async () => {
    const { pool } = fakePool();
    const holds = new StoreHolds(() => pool);
    assert.equal(await holds.hold(st, 'failover-a', 5000, true), 7);
    await assert.rejects(holds.hold(st, 'failover-b', 5000, true), (err: unknown) => {
      assert.ok(err instanceof DistkvError && err.code === 'MAP_CHANGED');
      assert.match(err.message, /another failover \(failover-a\) holds this shard here for \d+ ms more/);
      return true;
    });
    assert.equal(holds.claimant(st.index)?.owner, 'failover-a');
    // The same failover renews its own claim.
    assert.equal(await holds.hold(st, 'failover-a', 5000, true), 7);
  });

  it("keeps the coordinator's hold through a failover's release, and releases the worker with the last owner", async () => {
    const { pool, calls } = fakePool();
    const holds = new StoreHolds(() => pool);
    await holds.hold(st, FOLLOW_HOLD, 5000, false);
    await holds.hold(st, 'failover-a', 2000, true);
    assert.equal(await holds.release(st, 'failover-b'), false, 'a release by one that holds nothing');
    assert.equal(await holds.release(st, 'failover-a'), false, "the coordinator's hold stays");
    assert.ok(
      calls.every((c) => c.on),
      `no release reached the worker: ${JSON.stringify(calls)}`,
    );
    assert.equal(await holds.release(st, FOLLOW_HOLD), true);
    assert.deepEqual(calls.at(-1), { on: false });
  });

  it('asks the worker to hold until the latest deadline of its owners', async () => {
    const { pool, calls } = fakePool();
    const holds = new StoreHolds(() => pool);
    await holds.hold(st, FOLLOW_HOLD, 10000, false);
    await holds.hold(st, 'failover-a', 100, true);
    const ms = calls.at(-1)?.ms ?? 0;
    assert.ok(ms > 9000 && ms <= 10000, `held for ${ms} ms`);
  });

  it('forgets a hold that ran out: another failover may claim, and its release is no release', async () => {
    const { pool, calls } = fakePool();
    const holds = new StoreHolds(() => pool);
    await holds.hold(st, 'failover-a', 20, true);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(holds.claimant(st.index), undefined);
    await holds.hold(st, 'failover-b', 5000, true);
    assert.equal(await holds.release(st, 'failover-a'), false);
    assert.equal(holds.claimant(st.index)?.owner, 'failover-b');
    assert.equal(calls.filter((c) => !c.on).length, 0);
  });

  it("ends every owner's hold on a release without an owner, and forgets them on a role change", async () => {
    const { pool, calls } = fakePool();
    const holds = new StoreHolds(() => pool);
    await holds.hold(st, FOLLOW_HOLD, 5000, false);
    await holds.hold(st, 'failover-a', 5000, true);
    assert.equal(await holds.release(st, undefined), true);
    assert.deepEqual(calls.at(-1), { on: false });
    assert.equal(holds.claimant(st.index), undefined);
    await holds.hold(st, 'failover-a', 5000, true);
    holds.ended(st.index);
    assert.equal(holds.claimant(st.index), undefined);
  });
});
