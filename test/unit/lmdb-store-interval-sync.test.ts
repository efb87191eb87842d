/**
 * LmdbStore with `durability = "interval"`: the timer's mdb_env_sync runs on a libuv thread against
 * the environment, which lmdb-js does not hold open for it. Closing the store under it freed the
 * environment in use (a process of the model test died without a word in CI); close now waits for
 * it, and a tick while a sync runs starts no second one.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RootDatabase } from 'lmdb';
import { LmdbStore } from '../../src/storage/lmdb-store.js';
import { tempDir } from '../helpers/temp-dir.js';

type SyncCallback = (error?: Error) => void;
/** Root is the store's lmdb-js root with the two calls the test watches. */
type Root = RootDatabase & { sync(callback: SyncCallback): void; close(): Promise<void> };

describe('LmdbStore interval sync', () => {
  it('closes the environment only after the timer sync in flight has ended, and runs one at a time', async () => {
    const store = new LmdbStore({
      dir: tempDir(after),
      durability: 'interval',
      fsyncIntervalMs: 2,
      dirCheckMs: 0,
    });
    await store.put(Buffer.from('k'), Buffer.from('v'));
    const root = (store as unknown as { root: Root }).root;
    const events: string[] = [];
    const realSync = root.sync.bind(root);
    const realClose = root.close.bind(root);
    let held: SyncCallback | undefined;
    let calls = 0;
    root.sync = (callback: SyncCallback): void => {
      calls++;
      if (held === undefined && events.length === 0) {
        events.push('timer sync started');
        held = callback;
        return;
      }
      realSync(callback);
    };
    root.close = (): Promise<void> => {
      events.push('environment closed');
      return realClose();
    };
    for (let i = 0; i < 100 && held === undefined; i++) await sleep(10);
    assert.ok(held !== undefined, 'the timer started a sync');
    const closed = store.close();
    await sleep(60);
    assert.equal(calls, 1, 'no tick started a second sync while one ran, nor close one of its own');
    assert.deepEqual(events, ['timer sync started'], 'the environment is still open under the running sync');
    const callback = held;
    realSync((error) => {
      events.push('timer sync ended');
      callback(error);
    });
    await closed;
    assert.deepEqual(events, ['timer sync started', 'timer sync ended', 'environment closed']);
  });
});
