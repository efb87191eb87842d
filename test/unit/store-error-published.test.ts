/**
 * What refuses every write of a store shows in `/cluster` (SLOT_STORE_ERROR, read as the store's
 * `local_error`: src/worker/worker-stores.ts `publishLogFailure`), whatever refuses it: the commit
 * log's failure did, a flush failing did not. A leader whose memtable flushes failed with EACCES
 * (its directory made read-only) refused 96 writes with 507 STORE_DIR_DENIED and then every write,
 * while `/cluster` showed nothing and `distkv cluster` exited 0; only /metrics and the log said so.
 * Here a store's flushes fail (FaultyVfs: every open for writing fails with EACCES) until writes
 * are refused, then succeed again.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { localErrorOf, Positions, SLOT_STORE_ERROR } from '../../src/replication/positions.js';
import type { DistkvError } from '../../src/errors.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import { WorkerStores } from '../../src/worker/worker-stores.js';
import { tempDir } from '../helpers/temp-dir.js';
import { testStoreSpec } from '../helpers/worker-host.js';

/** until polls `f` every 50 ms for up to `ms`. */
async function until(what: string, ms: number, f: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${String(ms)} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("a store whose flushes fail, in /cluster's local_error", () => {
  it('shows the refusal its writes get (STORE_DIR_DENIED) while they are refused, and nothing once a flush succeeds', async () => {
    const base = testStoreSpec(tempDir(after), 0);
    const spec = { ...base, lsm: { ...base.lsm, memtableBytes: 4096 } };
    const positions = new Positions(new SharedArrayBuffer(Positions.bytesFor(1)));
    const stores = new WorkerStores(positions, undefined);
    const vfs = new FaultyVfs();
    await stores.open([spec], 0, vfs);
    try {
      const store = stores.at(0);
      vfs.failOpens(1_000_000, 'EACCES');
      let refused: DistkvError | undefined;
      for (let i = 0; i < 2000 && refused === undefined; i++)
        await store.put(Buffer.from(`k${String(i)}`), Buffer.alloc(100, 1)).catch((err: unknown) => {
          refused = err as DistkvError;
        });
      assert.equal(refused?.code, 'STORE_DIR_DENIED', String(refused));
      const shown = (): string | undefined => localErrorOf(positions.get(0, SLOT_STORE_ERROR));
      await until('/cluster shows the refusal', 3000, () => shown() === 'STORE_DIR_DENIED');
      vfs.failOpens(0);
      await until('a flush succeeds and /cluster clears', 10_000, () => shown() === undefined);
      await store.put(Buffer.from('after'), Buffer.alloc(100, 2));
    } finally {
      await stores.close();
    }
  });
});
