/**
 * WorkerFences (src/coordination/worker-fences.ts) keeps a leader store's worker fence on while its
 * process may not write the shard. The worker here is a twin: one fence flag per store, which a
 * `set-role` clears as the real worker's does (src/worker/replication-messages.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkerFences } from '../../src/coordination/worker-fences.js';
import type { NodePlan } from '../../src/server/node-plan.js';
import type { WorkerPool } from '../../src/server/worker-pool.js';

/** TwinWorker holds the fence flag of each store, as a worker's write path does. */
class TwinWorker {
  readonly fenced = new Set<number>();
  calls = 0;

  call(_worker: number, msg: { type: string; store: number; on?: boolean }): Promise<unknown> {
    this.calls++;
    if (msg.type === 'fence' && msg.on === true) this.fenced.add(msg.store);
    else this.fenced.delete(msg.store); // fence off, or set-role (it releases the fence)
    return Promise.resolve({});
  }

  storeFailure(): undefined {
    return undefined;
  }
}

function setup(): {
  fences: WorkerFences;
  worker: TwinWorker;
  plan: { stores: { index: number; role: string; worker: number; shard: { idx: number } }[] };
} {
  const plan = { stores: [{ index: 0, role: 'leader', worker: 0, shard: { idx: 0 } }] };
  const worker = new TwinWorker();
  const fences = new WorkerFences(plan as unknown as NodePlan, worker as unknown as WorkerPool);
  return { fences, worker, plan };
}

describe('worker fences', () => {
  it('fences a leader store its process may not write, and releases it once it may', async () => {
    const { fences, worker } = setup();
    await fences.apply(() => false);
    assert.ok(worker.fenced.has(0));
    await fences.apply(() => true);
    assert.ok(!worker.fenced.has(0));
    const calls = worker.calls;
    await fences.apply(() => true);
    assert.equal(worker.calls, calls, 'a store not fenced here is left alone');
  });

  // A set-role (a leader that stays one in a new epoch, a promotion) releases the worker's fence.
  // Before, the set of fences placed here still held the store, so no fence went out again, and
  // the store took RESP writes (held by the worker fence alone) while its process held no key.
  it('fences the store again after a set-role released the worker fence', async () => {
    const { fences, worker } = setup();
    await fences.apply(() => false);
    await worker.call(0, { type: 'set-role', store: 0 });
    assert.ok(!worker.fenced.has(0));
    await fences.apply(() => false);
    assert.ok(worker.fenced.has(0), 'the worker fence is back at the next apply');
  });

  it('forgets a store that turned replica (its set-role released the fence)', async () => {
    const { fences, worker, plan } = setup();
    await fences.apply(() => false);
    plan.stores[0]!.role = 'replica';
    await worker.call(0, { type: 'set-role', store: 0 });
    await fences.apply(() => false);
    assert.ok(!worker.fenced.has(0), 'a replica is not fenced here');
    plan.stores[0]!.role = 'leader';
    await fences.apply(() => true);
    assert.ok(!worker.fenced.has(0));
  });
});
