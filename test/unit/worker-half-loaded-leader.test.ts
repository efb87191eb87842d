/**
 * A replica promoted (a forced failover) in the middle of its resync holds part of a leader
 * snapshot under a seq that does not describe it (its resync marker says `loading`). Its worker
 * must not open it as a leader: led, it served that part as the shard's state and its log went on
 * from that seq. It answers UNAVAILABLE with the reason, shown in /stats, and the worker's other
 * stores open and serve.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { writeDurableJson } from '../../src/replication/durable-json.js';
import { Positions } from '../../src/replication/positions.js';
import { RESYNC_MARKER } from '../../src/replication/resync-marker.js';
import { WorkerStores } from '../../src/worker/worker-stores.js';
import { tempDir } from '../helpers/temp-dir.js';
import { testStoreSpec } from '../helpers/worker-host.js';

describe('a worker opening a store to lead', () => {
  it('refuses one whose resync marker says a snapshot load never finished, and opens the others', async () => {
    const root = tempDir(after);
    const half = testStoreSpec(root, 0);
    const whole = testStoreSpec(root, 1);
    // The half-loaded replica's directory, with its marker (as follower.ts writes it before the wipe).
    const first = new WorkerStores(new Positions(new SharedArrayBuffer(Positions.bytesFor(2))), undefined);
    await first.open([half, whole], 0);
    await first.at(0).put(Buffer.from('part'), Buffer.from('of a snapshot'));
    await first.close();
    writeDurableJson(join(half.dir, RESYNC_MARKER), { loading: true });

    const stores = new WorkerStores(new Positions(new SharedArrayBuffer(Positions.bytesFor(2))), undefined);
    await stores.open([half, whole], 0);
    try {
      assert.throws(() => stores.at(0), /stopped in the middle of loading a leader snapshot/);
      const report = stores.statsReport(() => undefined);
      assert.match(JSON.stringify(report.find((r) => r.index === 0)), /resync\.json says loading/);
      await stores.at(1).put(Buffer.from('k'), Buffer.from('v'));
      assert.equal(stores.at(1).get(Buffer.from('k'))?.toString(), 'v');
    } finally {
      await stores.close();
    }
  });
});
