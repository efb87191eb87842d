/**
 * A replica's pull ends only at the end of a batch (docs/api.md, "Batches with conditions"): a
 * conditional batch or transaction is one batch of its store's log, applied on the leader at once,
 * and a replica applies each pull at once; a pull that ended inside the batch let the replica's
 * readers see its first part until the next pull. Every log a pull reads is checked: the in-memory
 * twin (MemoryLog), a StoreLog's recent batches (wal-tail.ts) and its segments once reopened
 * (commit-log-cursor.ts). Random batch sizes, random `maxBytes` well below a batch's size.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import { MemoryLog } from '../../src/storage/memory-log.js';
import type { ReplicationLog } from '../../src/storage/replication-log.js';
import { openTestLog } from '../helpers/commit-log.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { recordBatch, seqsOf } from '../helpers/record-batch.js';

/** Written is a log holding the batches written, and the seq each batch ends at. */
interface Written {
  log: ReplicationLog;
  ends: Set<number>;
  last: number;
  close: () => Promise<void>;
}

/** sizes draws `count` batches of 1-12 records, and each record's value size (1-200 bytes). */
function draw(seed: number, count: number): { n: number; value: number }[] {
  const rnd = seededRandom(seed);
  return Array.from({ length: count }, () => ({
    n: 1 + Math.floor(rnd() * 12),
    value: 1 + Math.floor(rnd() * 200),
  }));
}

const batchOf = (first: number, n: number, value: number): Buffer =>
  recordBatch(first, first + n - 1, () => Buffer.alloc(value, 0x61));

const logs: [string, (seed: number) => Promise<Written>][] = [
  [
    'MemoryLog',
    (seed) => {
      const log = new MemoryLog();
      const ends = new Set<number>();
      for (const b of draw(seed, 200)) ends.add(log.append(batchOf(log.lastSeq + 1, b.n, b.value)));
      return Promise.resolve({ log, ends, last: log.lastSeq, close: () => Promise.resolve() });
    },
  ],
  ...(['StoreLog, recent batches in memory', 'StoreLog, reopened: from its segments'] as const).map(
    (name, reopen): [string, (seed: number) => Promise<Written>] => [
      name,
      async (seed) => {
        const vfs = new FaultyVfs();
        let t = await openTestLog(vfs, { segmentBytes: 16 * 1024 });
        const ends = new Set<number>();
        for (const b of draw(seed, 200)) {
          const first = t.log.lastSeq + 1;
          await t.log.appendRecords(batchOf(first, b.n, b.value), first, first + b.n - 1);
          ends.add(first + b.n - 1);
        }
        if (reopen === 1) {
          await t.close();
          t = await openTestLog(vfs, { segmentBytes: 16 * 1024 });
        }
        return { log: t.log, ends, last: t.log.lastSeq, close: t.close };
      },
    ],
  ),
];

for (const [name, write] of logs)
  describe(`a pull ends only at the end of a batch: ${name}`, () => {
    it('pulls with maxBytes below a batch end at batch ends, and bring every record once', async () => {
      const seed = testSeed();
      const w = await write(seed);
      const rnd = seededRandom(seed + 1);
      try {
        for (let round = 0; round < 20; round++) {
          const maxBytes = 1 + Math.floor(rnd() * 400);
          let after = 0;
          while (after < w.last) {
            const r = w.log.readLog(after, maxBytes);
            assert.ok(r !== 'gone', `seed ${seed}: after ${after}`);
            const seqs = seqsOf(r.records);
            assert.ok(seqs.length > 0, `seed ${seed}: after ${after}, nothing`);
            assert.deepEqual(
              seqs,
              Array.from({ length: seqs.length }, (_, i) => after + 1 + i),
              `seed ${seed}: after ${after}`,
            );
            assert.equal(r.lastSeq, seqs[seqs.length - 1]);
            assert.ok(
              w.ends.has(r.lastSeq),
              `seed ${seed}: a pull after ${after} (maxBytes ${maxBytes}) ended at seq ${r.lastSeq}, inside a batch`,
            );
            after = r.lastSeq;
          }
        }
      } finally {
        await w.close();
      }
    });
  });
