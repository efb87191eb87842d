/**
 * A store whose hand-over of a written batch throws is isolated (docs/commit-log-format.md,
 * "Failure"): the other stores of the same batch still get their records and their writes resolve;
 * the throwing store refuses its writes until it is reopened, and its records are replayed then.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { type DistkvError } from '../../src/errors.js';
import type { LogMember, Pending } from '../../src/storage/commit-log-member.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import { Memtable } from '../../src/storage/memtable.js';
import { StoreLog } from '../../src/storage/store-log.js';
import { decodeRecord, encodeRecord, recordSize, TYPE_PUT } from '../../src/storage/wal-format.js';
import { openTestLog, recoverLog, STORE } from '../helpers/commit-log.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);

/** within resolves with what `p` settles to, or 'pending' if it has not settled in `ms`. */
async function within<T>(p: Promise<T>, ms = 2000): Promise<T | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<'pending'>((resolve) => {
        timer = setTimeout(() => {
          resolve('pending');
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** ThrowingMember is an in-memory store of the log whose `written` throws. */
class ThrowingMember implements LogMember {
  readonly id = 99;
  readonly epoch = 0;
  readonly writtenSeq = 0;
  readonly durableSeq = 0;
  readonly isolated: DistkvError[] = [];
  private part: Pending | undefined;

  put(seq: number): void {
    const records = Buffer.alloc(recordSize(1, 1, TYPE_PUT));
    encodeRecord(records, 0, TYPE_PUT, seq, b('k'), b('v'), 0);
    this.part = { records, first: seq, last: seq, epoch: 0 };
  }

  take(): Pending | undefined {
    const p = this.part;
    this.part = undefined;
    return p;
  }

  written(): void {
    throw new Error('a listener of this store threw');
  }

  isolate(_part: Pending, err: DistkvError): void {
    this.isolated.push(err);
  }

  failed(): void {
    return undefined;
  }

  synced(): void {
    return undefined;
  }

  retainFrom(): number | undefined {
    return undefined;
  }
}

describe('commit log: a store that throws while taking its written records', () => {
  it('is isolated, and a store after it in the same batch still gets its records and is acknowledged', async () => {
    const vfs = new FaultyVfs();
    const t = await openTestLog(vfs);
    const bad = new ThrowingMember();
    await t.commit.attach(bad, 1);
    // The throwing member is first in the batch; the store's part comes after it.
    bad.put(1);
    t.commit.pending(bad);
    const write = t.log.append(TYPE_PUT, b('good'), b('1'));
    assert.deepEqual(await within(write), { seq: 1 }, "the other store's write is acknowledged");
    assert.equal(t.log.writtenSeq, 1);
    assert.equal(bad.isolated.length, 1, 'the throwing member was isolated');
    assert.equal(bad.isolated[0]!.code, 'UNAVAILABLE');
    assert.match(bad.isolated[0]!.message, /a listener of this store threw/);
    // The log goes on: the next batch is written and acknowledged too.
    assert.deepEqual(await within(t.log.append(TYPE_PUT, b('good'), b('2'))), { seq: 2 });
    await t.close();
  });

  it('refuses the writes of a StoreLog whose listener threw, not those of the other stores, and replays them at reopen', async () => {
    const vfs = new FaultyVfs();
    const t = await openTestLog(vfs);
    const other = new StoreLog(t.commit, STORE + 1, 1, 1 << 20);
    await t.commit.attach(other, 1);
    t.log.onLog(() => {
      throw new Error('watcher exploded');
    });
    const heard: number[] = [];
    other.onLog((_records, _first, last) => heard.push(last));
    const bad = t.log.append(TYPE_PUT, b('a'), b('1'));
    const good = other.append(TYPE_PUT, b('b'), b('2'));
    const [badResult, goodResult] = await Promise.all([
      within(
        bad.then(
          () => 'resolved',
          (err: unknown) => err as DistkvError,
        ),
      ),
      within(good),
    ]);
    assert.deepEqual(goodResult, { seq: 1 }, 'the other store is acknowledged');
    assert.deepEqual(heard, [1], "the other store's listener got its batch");
    assert.ok(typeof badResult === 'object', `the throwing store's write is refused, not ${badResult}`);
    assert.equal(badResult.code, 'UNAVAILABLE');
    await assert.rejects(t.log.append(TYPE_PUT, b('a'), b('again')), { code: 'UNAVAILABLE' });
    assert.deepEqual(await within(other.append(TYPE_PUT, b('b'), b('3'))), { seq: 2 });
    await other.close();
    await t.close();
    // The refused store's record is in the log: reopening it replays it.
    const { records } = await recoverLog(vfs);
    assert.deepEqual(
      records.filter((r) => r[0] === STORE).map((r) => [r[1], r[3], r[4]]),
      [[1, 'a', '1']],
    );
  });

  it('isolates a store whose memtable throws on a written record: no later write gets past the hole, and a reopen has the record its log served', async () => {
    const vfs = new FaultyVfs();
    const dir = join(tempDir(after), 'node', 'shard-0');
    const store = await openTestLsm(dir, { vfs, walSegmentBytes: 4096 });
    // Called only with a Memtable as `this` (boom below), and put back when the test ends.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const applyHashed = Memtable.prototype.applyHashed;
    const boom: typeof applyHashed = function (this: Memtable, ...args) {
      if (Buffer.from(args[1].subarray(args[2], args[3])).toString() === 'boom')
        throw new RangeError('could not grow');
      applyHashed.apply(this, args);
    };
    Memtable.prototype.applyHashed = boom;
    let served: string[];
    try {
      await store.put(b('a'), b('1'));
      await assert.rejects(store.put(b('boom'), b('2')));
      const later = await store.put(b('c'), b('3')).then(
        () => 'acknowledged',
        (err: unknown) => (err as DistkvError).code,
      );
      assert.equal(later, 'UNAVAILABLE', 'a write after the hole is refused until the store is reopened');
      const log = store.replication.readLog(0, 1 << 20);
      served = log === 'gone' ? [] : keysIn(log.records);
    } finally {
      Memtable.prototype.applyHashed = applyHashed;
    }
    await store.close();
    const reopened = await openTestLsm(dir, { vfs, walSegmentBytes: 4096 });
    try {
      const held = ['a', 'boom', 'c'].filter((k) => reopened.get(b(k)) !== undefined);
      for (const k of served)
        assert.ok(held.includes(k), `the log served ${k}, so the reopened store has it`);
    } finally {
      await reopened.close();
    }
  });
});

/** keysIn lists the keys of records in WAL framing. */
function keysIn(records: Buffer): string[] {
  const out: string[] = [];
  for (let o = 0; o < records.length;) {
    const r = decodeRecord(records, o);
    if (typeof r === 'string') break;
    out.push(r.key.toString());
    o += r.size;
  }
  return out;
}
