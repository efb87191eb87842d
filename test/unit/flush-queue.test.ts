/**
 * FlushQueue (src/storage/flush-queue.ts): what follows a flush (`flushed`: the store's log trim)
 * throwing neither ends the flush loop nor rejects it (nothing awaits the loop; in a worker an
 * unhandled rejection ends the thread): the next frozen memtable is still flushed. A flush
 * failing while its store closes does not wait out its backoff (up to 30 s) before its last
 * attempt: a node on a full disk did not stop for that long (`retryNow`); the flush it then gives
 * up is reported by `drain` (LsmStore.close logs it), not passed over as done.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlushQueue, type FlushTarget } from '../../src/storage/flush-queue.js';
import { Memtable } from '../../src/storage/memtable.js';

describe('FlushQueue', () => {
  it('goes on flushing when what follows a flush throws', async () => {
    const built: Memtable[] = [];
    const logged: string[] = [];
    const target: FlushTarget = {
      build: async (m) => {
        await new Promise((r) => setImmediate(r));
        built.push(m);
      },
      flushed: () => {
        throw new Error('EIO: unlink failed');
      },
      backpressure: () => undefined,
      heldBack: () => undefined,
      isClosed: () => false,
      isClosing: () => false,
      dir: 'store',
      log: { error: (_o: object, msg: string) => logged.push(msg) } as unknown as FlushTarget['log'],
    };
    const q = new FlushQueue(target, []);
    const a = new Memtable();
    const b = new Memtable();
    q.push(a);
    q.push(b);
    await q.drain();
    assert.deepEqual(built, [a, b], 'both frozen memtables flushed, oldest first');
    assert.equal(q.frozen.length, 0);
    assert.deepEqual(logged, ['after a memtable flush', 'after a memtable flush']);
  });

  it("makes its last attempt at once when the store closes during a failing flush's backoff", async () => {
    let closing = false;
    let attempts = 0;
    const target: FlushTarget = {
      build: () => {
        attempts++;
        return Promise.reject(new Error('ENOSPC: no space left on device, write'));
      },
      flushed: () => undefined,
      backpressure: () => undefined,
      heldBack: () => undefined,
      isClosed: () => false,
      isClosing: () => closing,
      dir: 'store',
      // Backoffs as long as the stop's whole bound: only retryNow ends them in time.
      retryMinMs: 60_000,
      retryMaxMs: 60_000,
    };
    const q = new FlushQueue(target, []);
    q.push(new Memtable());
    while (attempts < 1) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 20));
    const t0 = performance.now();
    closing = true;
    q.retryNow();
    await assert.rejects(q.drain(), /ENOSPC/, 'the flush that was given up is reported, not a drained queue');
    const ms = performance.now() - t0;
    assert.ok(ms < 1000, `the loop ended ${Math.round(ms)} ms after the close began`);
    assert.equal(attempts, 2, 'one more attempt at the close, and no retry after it');
    assert.equal(q.frozen.length, 1, 'the memtable stays frozen (its records stay in the log)');
  });
});
