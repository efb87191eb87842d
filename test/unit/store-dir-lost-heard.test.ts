/**
 * A store whose directory is removed while it runs tells its opener once (`onDirLost`,
 * src/storage/store-dir-watch.ts), whichever engine: the worker publishes it in the positions
 * (SLOT_STORE_ERROR, src/replication/positions.ts), where /cluster reads it without asking the
 * worker. Before, only the store's stats (`dirLost`, a round trip that /metrics makes) said so,
 * and /cluster showed such a leader as any other.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DistkvError } from '../../src/errors.js';
import {
  localErrorOf,
  localErrorSlot,
  Positions,
  SLOT_LOCAL_ERROR,
  SLOT_STORE_ERROR,
} from '../../src/replication/positions.js';
import { openStore } from '../../src/storage/open-store.js';
import { tempDir } from '../helpers/temp-dir.js';

const LSM = {
  memtableBytes: 1 << 20,
  maxRuns: 8,
  walSegmentBytes: 1 << 20,
  walRetentionBytes: 1 << 20,
  ringBytes: 1 << 20,
};

describe('a store whose directory is removed while it runs', () => {
  for (const engine of ['lsm', 'lmdb'] as const)
    it(`tells onDirLost once, with STORE_DIR_LOST (${engine})`, async () => {
      const dir = join(tempDir(after), 'node_1', 'shard-0');
      const heard: DistkvError[] = [];
      // Read through a call: the callback adds to it behind the type checker's back.
      const count = (): number => heard.length;
      const store = await openStore(engine, {
        dir,
        durability: 'fsync',
        fsyncIntervalMs: 20,
        lsm: LSM,
        repair: false,
        onDirLost: (lost) => heard.push(lost),
      });
      try {
        await store.put(Buffer.from('k'), Buffer.from('v'));
        await sleep(1200);
        assert.equal(heard.length, 0, 'heard a loss while the directory is in place');
        rmSync(dir, { recursive: true, force: true });
        // The default check runs every second.
        for (let i = 0; i < 40 && count() === 0; i++) await sleep(100);
        assert.equal(heard.length, 1, 'not heard 4 s after the directory was removed');
        assert.equal(heard[0]!.code, 'STORE_DIR_LOST');
        await sleep(1200);
        assert.equal(heard.length, 1, 'heard more than once');
      } finally {
        await store.close();
      }
    });
});

describe('SLOT_STORE_ERROR', () => {
  it("holds a store-wide refusal apart from a replica follower's own-disk failure", () => {
    const p = new Positions(new SharedArrayBuffer(Positions.bytesFor(2)));
    p.set(1, SLOT_STORE_ERROR, localErrorSlot('STORE_DIR_LOST'));
    assert.equal(localErrorOf(p.get(1, SLOT_STORE_ERROR)), 'STORE_DIR_LOST');
    assert.equal(localErrorOf(p.get(1, SLOT_LOCAL_ERROR)), undefined);
    assert.equal(localErrorOf(p.get(0, SLOT_STORE_ERROR)), undefined, 'another store saw it');
  });
});
