/**
 * The replication log seam (src/storage/replication-log.ts), one conformance suite for StoreLog (a
 * store's part of a commit log, on a FaultyVfs) and MemoryLog (its in-memory twin): "records after
 * N" in order and within about maxBytes, every batch to onLog, waitForLog woken by an append, and
 * the oldest readable seq.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import { MemoryLog } from '../../src/storage/memory-log.js';
import type { ReplicationLog } from '../../src/storage/replication-log.js';
import { openTestLog } from '../helpers/commit-log.js';
import { recordBatch, seqsOf } from '../helpers/record-batch.js';

/** batch encodes `n` records from seq `first` on, each with a 10-byte value. */
const batch = (first: number, n: number): Buffer =>
  recordBatch(first, first + n - 1, () => Buffer.alloc(10, 0x61));

/** LogUnderTest is a log and the way to append a batch of `n` records with keys k<seq>. */
interface LogUnderTest {
  log: ReplicationLog;
  append: (n: number) => Promise<void>;
  close: () => Promise<void>;
}

const implementations: [string, () => Promise<LogUnderTest>][] = [
  [
    'MemoryLog',
    () => {
      const log = new MemoryLog();
      return Promise.resolve({
        log,
        append: (n: number) => {
          log.append(batch(log.lastSeq + 1, n));
          return Promise.resolve();
        },
        close: () => Promise.resolve(),
      });
    },
  ],
  [
    'StoreLog',
    async () => {
      const t = await openTestLog(new FaultyVfs(), { segmentBytes: 1024 });
      return {
        log: t.log,
        append: async (n: number) => {
          const first = t.log.lastSeq + 1;
          await t.log.appendRecords(batch(first, n), first, first + n - 1);
        },
        close: t.close,
      };
    },
  ],
];

for (const [name, make] of implementations)
  describe(`replication log conformance: ${name}`, () => {
    it('answers records after any seq, in order, at least one and about maxBytes, up to a batch end', async () => {
      const t = await make();
      try {
        let last = 0;
        const ends = new Set<number>();
        for (let i = 1; i <= 30; i++) {
          await t.append(1 + (i % 4));
          last += 1 + (i % 4);
          ends.add(last);
        }
        for (const after of [0, 1, 7, last - 2, last - 1]) {
          const r = t.log.readLog(after, 64);
          assert.ok(r !== 'gone', `after ${after}`);
          const seqs = seqsOf(r.records);
          assert.ok(seqs.length >= 1);
          assert.deepEqual(
            seqs,
            Array.from({ length: seqs.length }, (_, i) => after + 1 + i),
          );
          assert.equal(r.lastSeq, seqs[seqs.length - 1]);
          // A pull ends only at a batch's end (docs/api.md, "Batches with conditions"): at most one
          // batch (4 records here) past maxBytes.
          assert.ok(ends.has(r.lastSeq), `ends at a batch end (${r.lastSeq})`);
          assert.ok(r.records.length < 64 + batch(last, 4).length, `about maxBytes (${r.records.length})`);
        }
        assert.deepEqual(t.log.readLog(last, 100), { records: Buffer.alloc(0), lastSeq: last });
        assert.equal(t.log.oldestLogSeq(), 1);
      } finally {
        await t.close();
      }
    });

    it('hands every durable batch to onLog and wakes waitForLog', async () => {
      const t = await make();
      try {
        const seen: [number, number][] = [];
        t.log.onLog((records, first, last) => {
          assert.deepEqual(
            seqsOf(records),
            Array.from({ length: last - first + 1 }, (_, i) => first + i),
          );
          seen.push([first, last]);
        });
        const waiting = t.log.waitForLog(0, 60_000);
        await t.append(3);
        await waiting;
        await t.append(2);
        assert.deepEqual(seen, [
          [1, 3],
          [4, 5],
        ]);
        const t0 = Date.now();
        await t.log.waitForLog(5, 30);
        assert.ok(Date.now() - t0 >= 20, 'a wait with nothing new lasts its time');
      } finally {
        await t.close();
      }
    });
  });
