/**
 * A replica rebuilt by a resync (its directory wiped, its store opened again: WorkerStores.reopen)
 * records its slot range again (`SLOTS`, src/storage/own-slots.ts). Before, the rebuilt directory
 * had none, so the next start with a changed layout warned of every other store's moved slots but
 * not of this one's.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Positions } from '../../src/replication/positions.js';
import { SLOTS_FILE } from '../../src/storage/own-slots.js';
import { WorkerStores } from '../../src/worker/worker-stores.js';
import { tempDir } from '../helpers/temp-dir.js';
import { testStoreSpec } from '../helpers/worker-host.js';

describe('a store opened again after its directory was wiped (a resync)', () => {
  it('records its slots again', async () => {
    const spec = testStoreSpec(tempDir(after), 0);
    const stores = new WorkerStores(new Positions(new SharedArrayBuffer(Positions.bytesFor(1))), undefined);
    await stores.open([spec], 0);
    try {
      const slots = readFileSync(join(spec.dir, SLOTS_FILE), 'utf8');
      await stores.at(0).close();
      rmSync(spec.dir, { recursive: true });
      const again = await stores.reopen(spec);
      try {
        assert.ok(existsSync(join(spec.dir, SLOTS_FILE)), 'the rebuilt directory records its slots');
        assert.equal(readFileSync(join(spec.dir, SLOTS_FILE), 'utf8'), slots);
      } finally {
        await again.close();
      }
    } finally {
      await stores.close();
    }
  });
});
