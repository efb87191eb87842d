/**
 * RealVfs's writable file (src/storage/real-vfs.ts): fdatasync through node:fs's callback API,
 * and close waiting for the syncs in flight.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { RealVfs } from '../../src/storage/real-vfs.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('RealVfs writable file', () => {
  it('waits for syncs in flight before closing', async () => {
    const dir = tempDir(after);
    const f = await new RealVfs().openAppend(join(dir, 'a'), true);
    await f.append(Buffer.from('record'));
    const syncs = [f.sync(), f.sync()];
    await f.close();
    await Promise.all(syncs);
  });

  it('refuses a sync after close, and still closes again', async () => {
    const dir = tempDir(after);
    const f = await new RealVfs().openAppend(join(dir, 'a'), true);
    await f.close();
    await assert.rejects(f.sync());
    // A sync that never reached the thread pool must not count as in flight: close would wait for it forever.
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<string>((resolve) => {
      timer = setTimeout(() => {
        resolve('hung');
      }, 10_000);
    });
    const closed = f.close().then(() => 'closed');
    try {
      assert.equal(await Promise.race([closed, hung]), 'closed');
    } finally {
      clearTimeout(timer);
    }
  });
});
