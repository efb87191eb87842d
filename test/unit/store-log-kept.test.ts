/**
 * A store's recent log (what replicas and watchers read from memory) holds the store's own records,
 * not the commit log batches they were written in (src/storage/store-log-kept.ts): a store written
 * seldom beside a busy one held, for each of its records, the whole batch (every other store's part
 * with it), far over the `ring_bytes` its stats count.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { decodeRecord } from '../../src/storage/wal-format.js';
import { openTestGroup } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

const RING_BYTES = 64 * 1024;

describe("a store's recent log", () => {
  it('holds a quiet store its own records only, not the batches a busy store filled', async () => {
    const root = tempDir(after);
    const dirs = [0, 1].map((i) => join(root, 'node_1', `shard-${i}`));
    const { log, stores } = await openTestGroup(join(root, 'log', 'w0'), dirs, { ringBytes: RING_BYTES });
    const [quiet, busy] = stores as [(typeof stores)[0], (typeof stores)[0]];
    try {
      const value = Buffer.alloc(1000, 7);
      for (let turn = 0; turn < 20; turn++) {
        // One turn: one record of the quiet store in a batch of about 100 KB of the busy one's.
        const writes = [quiet.put(Buffer.from(`q${turn}`), Buffer.from(`v${turn}`))];
        for (let i = 0; i < 100; i++) writes.push(busy.put(Buffer.from(`b${turn}-${i}`), value));
        await Promise.all(writes);
      }
      for (let after = 0; after < 20; after++) {
        const r = quiet.replication.readLog(after, 1);
        assert.ok(r !== 'gone', `seq ${after + 1} is in memory`);
        const rec = decodeRecord(r.records, 0);
        assert.ok(typeof rec !== 'string', typeof rec === 'string' ? rec : '');
        assert.equal(rec.key.toString(), `q${after}`);
        // What the view keeps alive: the quiet store's own slab (an eighth of ring_bytes), not a batch.
        assert.ok(
          r.records.buffer.byteLength <= RING_BYTES / 8,
          `seq ${after + 1}'s records hold ${r.records.buffer.byteLength} bytes`,
        );
      }
      const r = busy.replication.readLog(0, 1 << 20);
      assert.ok(r !== 'gone' && r.lastSeq > 0, 'the busy store reads back its own records');
    } finally {
      for (const s of stores) await s.close();
      await log.close();
    }
  });
});
