/**
 * The reaper (src/worker/expiry-records.ts `reap`) against a store that throws: a key whose read
 * throws (a damaged value: CorruptionError) or whose expire record cannot even be issued (the
 * store closed under it) is dropped with a warning. Thrown out of the reaper's timer, or out of
 * the reaction that retries behind a write in flight, it ended the worker thread (every write in
 * flight answered 503), and the scan a restarted leader makes found the same key again.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { CorruptionError } from '../../src/errors.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import type { StoreValue } from '../../src/storage/store.js';
import { tempDir } from '../helpers/temp-dir.js';
import { storeWritesOver } from '../helpers/worker-host.js';

/** DamagedStore is a MemoryStore whose value of key `bad` cannot be read. */
class DamagedStore extends MemoryStore {
  override read(key: Uint8Array, nowMs?: number): StoreValue | undefined {
    if (Buffer.from(key).toString() === 'bad') throw new CorruptionError('data.mdb', 0, 'a value is damaged');
    return super.read(key, nowMs);
  }
}

const b = (s: string): Buffer => Buffer.from(s);

async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(what);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('the reaper over a store that throws', () => {
  it('drops a key whose read throws and goes on reaping the others', async () => {
    const store = new DamagedStore();
    const writes = storeWritesOver(tempDir(after), [store], new Map());
    after(() => {
      writes.close();
    });
    const t = Date.now();
    const { seq } = await store.put(b('good'), b('v'), t + 20);
    writes.remember({ store: 0, key: b('bad'), seq: 1, expiresAtMs: t + 10 });
    writes.remember({ store: 0, key: b('good'), seq, expiresAtMs: t + 20 });
    await until('the good key expired', () => store.read(b('good'), 0) === undefined);
  });

  it('drops a key whose read throws once the write in flight on it settled', async () => {
    const store = new DamagedStore();
    const writes = storeWritesOver(tempDir(after), [store], new Map());
    after(() => {
      writes.close();
    });
    let release!: (r: { seq: number }) => void;
    const inFlight = new Promise<{ seq: number }>((r) => (release = r));
    store.put = () => inFlight;
    writes.write(1, 0, store, b('bad'), b('2'), 0, 0, undefined);
    writes.remember({ store: 0, key: b('bad'), seq: 1, expiresAtMs: Date.now() - 1 });
    await new Promise((r) => setTimeout(r, 50));
    release({ seq: 2 });
    await new Promise((r) => setTimeout(r, 50));
  });

  it('drops a key whose expire record cannot be issued: the store closed', async () => {
    const store = new MemoryStore();
    const writes = storeWritesOver(tempDir(after), [store], new Map());
    after(() => {
      writes.close();
    });
    const { seq } = await store.put(b('k'), b('v'), Date.now() + 10);
    writes.remember({ store: 0, key: b('k'), seq, expiresAtMs: Date.now() + 10 });
    await store.close();
    await new Promise((r) => setTimeout(r, 60));
  });
});
