/**
 * FlushQueue (src/storage/flush-queue.ts): what follows a flush (`flushed`: the store's log trim)
 * throwing neither ends the flush loop nor rejects it (nothing awaits the loop; in a worker an
 * unhandled rejection ends the thread): the next frozen memtable is still flushed.
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
});
