/**
 * The epoch a record's frame carries is the one its store was in when the record was appended
 * (docs/wal-format.md, "Epoch history": records carry the epoch of the leader that wrote them),
 * not the one in force when the commit log took the batch: a write accepted before an epoch change
 * but still pending at it keeps the old epoch, and a write appended after it gets the new one.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RETRY_MS } from '../../src/storage/commit-log-failure.js';
import { readCommitLog } from '../../src/storage/commit-log-reader.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import { TYPE_PUT } from '../../src/storage/wal-format.js';
import { LOG_DIR, openTestLog, STORE } from '../helpers/commit-log.js';

const b = (s: string): Buffer => Buffer.from(s);

/** epochsOf returns [seq, frame epoch] of every record of STORE in the log. */
async function epochsOf(vfs: FaultyVfs): Promise<[number, number][]> {
  const out: [number, number][] = [];
  await readCommitLog(vfs, LOG_DIR, {
    repair: false,
    onRecord: (store, r) => {
      if (store === STORE) out.push([r.seq, r.epoch]);
    },
    onBase: () => undefined,
  });
  return out;
}

describe('commit log: epochs of records pending at an epoch change', () => {
  it('keeps the epoch each record was appended in, in one batch and one fdatasync', async () => {
    const vfs = new FaultyVfs();
    const t = await openTestLog(vfs);
    const syncs = t.commit.counters.syncs;
    // All in one turn: the commit log takes them together at its end.
    const writes = [t.log.append(TYPE_PUT, b('a'), b('0'))];
    t.log.epoch = 1;
    writes.push(t.log.append(TYPE_PUT, b('b'), b('1')), t.log.append(TYPE_PUT, b('c'), b('1')));
    t.log.epoch = 2;
    writes.push(t.log.append(TYPE_PUT, b('d'), b('2')));
    assert.deepEqual(
      (await Promise.all(writes)).map((r) => r.seq),
      [1, 2, 3, 4],
    );
    assert.equal(t.commit.counters.syncs - syncs, 1, 'one fdatasync for the three parts');
    assert.equal(t.log.writtenSeq, 4);
    await t.close();
    assert.deepEqual(await epochsOf(vfs), [
      [1, 0],
      [2, 1],
      [3, 1],
      [4, 2],
    ]);
  });

  it('refuses the records of every epoch of a failed batch, and the store goes on after them', async () => {
    const vfs = new FaultyVfs();
    const t = await openTestLog(vfs);
    vfs.failSyncs(1);
    const old = t.log.append(TYPE_PUT, b('a'), b('0'));
    t.log.epoch = 1;
    const next = t.log.append(TYPE_PUT, b('b'), b('1'));
    await assert.rejects(old, { code: 'DISK_FULL' });
    await assert.rejects(next, { code: 'DISK_FULL' });
    await new Promise((r) => setTimeout(r, RETRY_MS + 20));
    assert.equal((await t.log.append(TYPE_PUT, b('c'), b('1'))).seq, 1);
    await t.close();
    assert.deepEqual(await epochsOf(vfs), [[1, 1]]);
  });
});
