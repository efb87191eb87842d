/**
 * The commit log cursor's smaller window and unchecked stepping (src/storage/commit-log-cursor.ts,
 * session 68) against the reading before it (test/helpers/commit-log-cursor-reference.ts): the same
 * answers for every read of a log that mixes two stores, batch sizes, value sizes 0..1.2 MiB (frames
 * larger than either window), and reads from every kind of position (an index point, inside a
 * batch, maxBytes 0 and 1); and a record stepped over whose length is damaged must not hide the
 * records the read answers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StoreCursor } from '../../src/storage/commit-log-cursor.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import { StoreLog } from '../../src/storage/store-log.js';
import { StoreCursorReference } from '../helpers/commit-log-cursor-reference.js';
import { openTestLog, segmentFiles, STORE } from '../helpers/commit-log.js';
import { seededRandom } from '../helpers/random.js';
import { recordBatch, seqsOf } from '../helpers/record-batch.js';

/** valueSize draws a value size over the whole range: mostly small, some near 64 KiB, a few over 1 MiB. */
function valueSize(rnd: () => number): number {
  const x = rnd();
  if (x < 0.7) return Math.floor(rnd() * 300);
  if (x < 0.93) return 60 * 1024 + Math.floor(rnd() * 8 * 1024);
  if (x < 0.98) return Math.floor(rnd() * 400 * 1024);
  return 1024 * 1024 + Math.floor(rnd() * 200 * 1024);
}

const OTHER = STORE + 1;

describe('the commit log cursor after session 68', () => {
  it('answers every read as the reading before it did (seeded, randomized)', async () => {
    const seed = Number(process.env.CURSOR_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const rnd = seededRandom(seed);
    const vfs = new FaultyVfs();
    const t = await openTestLog(vfs, { segmentBytes: 6 << 20, durability: 'none' });
    const other = new StoreLog(t.commit, OTHER, 1, 1 << 20);
    await t.commit.attach(other, 1);
    let next = 1;
    let nextOther = 1;
    try {
      const sizes = new Map<number, number>();
      for (let turn = 0; turn < 160; turn++) {
        const writes: Promise<unknown>[] = [];
        for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) {
          const n = 1 + Math.floor(rnd() * (rnd() < 0.2 ? 60 : 6));
          const ours = rnd() < 0.6;
          const first = ours ? next : nextOther;
          for (let s = first; s < first + n; s++) sizes.set(ours ? s : -s, valueSize(rnd));
          const batch = recordBatch(first, first + n - 1, (s) =>
            Buffer.alloc(sizes.get(ours ? s : -s)!, s & 0xff),
          );
          if (ours) {
            writes.push(t.log.appendRecords(batch, first, first + n - 1));
            next += n;
          } else {
            writes.push(other.appendRecords(batch, first, first + n - 1));
            nextOther += n;
          }
        }
        await Promise.all(writes);
      }
      const last = next - 1;
      const segments = t.commit.segments();
      const points: number[] = [];
      for (const s of segments) {
        const r = s.stores.get(STORE);
        if (r !== undefined) for (let i = 0; i < r.points.length; i += 2) points.push(r.points[i]!);
      }
      const kept = { now: new StoreCursor(vfs, STORE), before: new StoreCursorReference(vfs, STORE) };
      let after = 0;
      for (let q = 0; q < 500; q++) {
        const kind = rnd();
        if (kind < 0.25) after = points[Math.floor(rnd() * points.length)]! - 1 - (rnd() < 0.5 ? 0 : 1);
        else if (kind < 0.5) after = Math.min(last - 1, after + 1 + Math.floor(rnd() * 40));
        else after = Math.floor(rnd() * last);
        after = Math.max(0, Math.min(last - 1, after));
        const m = rnd();
        const maxBytes =
          m < 0.15
            ? 0
            : m < 0.4
              ? 1
              : m < 0.8
                ? Math.floor(rnd() * 200 * 1024)
                : Math.floor(rnd() * (3 << 20));
        const keep = rnd() < 0.5;
        const now = (keep ? kept.now : new StoreCursor(vfs, STORE)).readAfter(segments, after, maxBytes);
        const before = (keep ? kept.before : new StoreCursorReference(vfs, STORE)).readAfter(
          segments,
          after,
          maxBytes,
        );
        const what = `seed ${String(seed)} (CURSOR_SEED), read ${String(q)}: after ${String(after)}, maxBytes ${String(maxBytes)}, kept cursor ${String(keep)}`;
        if (before === 'gone' || now === 'gone') {
          assert.equal(now, before, what);
          continue;
        }
        assert.equal(now.lastSeq, before.lastSeq, what);
        assert.ok(now.records.equals(before.records), `${what}: records differ`);
        const seqs = seqsOf(now.records);
        assert.equal(seqs[0], after + 1, what);
      }
    } finally {
      await other.close();
      await t.close();
    }
  });

  it('reports a stepped-over record whose length is damaged instead of skipping the records the read answers', async () => {
    const vfs = new FaultyVfs();
    const t = await openTestLog(vfs, { segmentBytes: 8 << 20, durability: 'none' });
    try {
      const value = (): Buffer => Buffer.alloc(200, 0x61);
      for (let first = 1; first <= 100; first += 20)
        await t.log.appendRecords(recordBatch(first, first + 19, value), first, first + 19);
      const [path] = segmentFiles(vfs);
      // Record 5 (key "k5" then its value of "a"s): its len field is 4 bytes past its start, and
      // its key 19 bytes past it (wal-format.ts). One bit of its length flips (4096 more bytes).
      const key = vfs.readFile(path!).indexOf(Buffer.from('k5a'));
      assert.ok(key > 0);
      const lenAt = key - 19 + 4;
      const f = vfs.file(path!);
      f.data[lenAt + 1]! ^= 0x10;
      if (lenAt + 1 < f.synced.length) f.synced[lenAt + 1]! ^= 0x10;
      const segments = t.commit.segments();
      // The reading before session 68 reported it (record 5's checksum covers its length).
      assert.throws(
        () => new StoreCursorReference(vfs, STORE).readAfter(segments, 5, 1),
        (err: Error & { code?: string }) => err.code === 'CORRUPTION',
      );
      let answer: number[] | string;
      try {
        const r = new StoreCursor(vfs, STORE).readAfter(segments, 5, 1);
        answer = r === 'gone' ? 'gone' : seqsOf(r.records);
      } catch (err) {
        answer = (err as Error & { code?: string }).code ?? String(err);
      }
      // Either the damage is reported, or the answer starts where it was asked to (seq 6).
      assert.ok(
        answer === 'CORRUPTION' || (Array.isArray(answer) && answer[0] === 6),
        `a pull after 5 was answered ${JSON.stringify(Array.isArray(answer) ? answer.slice(0, 3) : answer)}...`,
      );
    } finally {
      await t.close();
    }
  });
});
