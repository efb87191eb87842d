/**
 * ExpiryRecords (src/worker/expiry-records.ts) while a fence holds a leader store's writes: an
 * expiry that comes due waits for the fence's release, held once per key. Every read of an expired
 * key hands it to the reaper again, and the reaper, finding the store fenced, held it again: a
 * fence that lasts (its failover died) held a list that grew by one entry per read of the key.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { ExpiryRecords } from '../../src/worker/expiry-records.js';
import { PendingWrites } from '../../src/worker/pending-writes.js';
import { tempDir } from '../helpers/temp-dir.js';
import { testStoreSpec } from '../helpers/worker-host.js';

const b = (s: string): Buffer => Buffer.from(s);
const tick = (ms = 1): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('expiries under a fence', () => {
  it('holds one expiry per key however often reads hand it back, and logs it once released', async () => {
    const store = new MemoryStore();
    const hosted = new Map([[0, { spec: testStoreSpec(tempDir(after), 0, 'memory'), store }]]);
    let fenced = true;
    const records = new ExpiryRecords(hosted, {
      pending: new PendingWrites(),
      fenced: () => fenced,
      issued: () => undefined,
    });
    after(() => {
      records.close();
    });
    const t = Date.now();
    const { seq } = await store.put(b('k'), b('v'), t + 5);
    await tick(10);
    // A read of the expired key during the fence, 200 times over: each is reaped, then held.
    for (let i = 0; i < 200; i++) {
      records.remember({ store: 0, key: b('k'), seq, expiresAtMs: t + 5 });
      await tick();
    }
    assert.equal(records.heldCount, 1, 'one held expiry for the one key');
    assert.notEqual(store.read(b('k'), 0), undefined, 'nothing is logged while the fence holds');
    fenced = false;
    records.released(0);
    assert.equal(records.heldCount, 0);
    const deadline = Date.now() + 3000;
    while (store.read(b('k'), 0) !== undefined) {
      if (Date.now() > deadline) assert.fail('the expiry was not logged after the release');
      await tick(5);
    }
  });
});
