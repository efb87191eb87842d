/**
 * Reads that stop early must not hold an LMDB read transaction (src/storage/merge-iterator.ts). A
 * scan whose page filled, or an expiry page (read at every leader's start), left the LMDB range it
 * merged unfinished: its read transaction stayed open for the life of the process, LMDB reused no
 * page freed after it, and a leader's `data.mdb` grew by every byte compacted into it (1.3 GB for
 * 60 MB of data) while its replica stayed flat.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { open } from 'lmdb';
import { mergeNewest, type Versioned } from '../../src/storage/merge-iterator.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/fake-peer.js';

const b = (s: string): Buffer => Buffer.from(s);

/**
 * staleReaders lists the read transactions of the LMDB file `file` (mdb_reader_list) that began
 * before its last commit: lmdb-js resets its own at each commit, so only a read left unfinished
 * keeps one.
 */
function staleReaders(file: string): string[] {
  const env = open({ path: file, noSubdir: true, maxDbs: 4 });
  const last = (env.getStats() as { lastTxnId: number }).lastTxnId;
  return env
    .readerList()
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 3 && /^\d+$/.test(f[2]!) && Number(f[2]) < last)
    .map((f) => f.join(' '));
}

/** source is a sorted source that records whether it was returned. */
function source(keys: string[]): Iterator<[string, Versioned]> & { returned: boolean } {
  const it = {
    returned: false,
    i: 0,
    next(): IteratorResult<[string, Versioned]> {
      const k = keys[it.i++];
      return k === undefined
        ? { done: true, value: undefined }
        : { done: false, value: [k, { seq: 1, value: b(k) }] };
    },
    return(): IteratorResult<[string, Versioned]> {
      it.returned = true;
      return { done: true, value: undefined };
    },
  };
  return it;
}

describe('a read that stops before the end of the levels', () => {
  it('returns every source of the merge it leaves', () => {
    const sources = [source(['a', 'c', 'e']), source(['b', 'd'])];
    for (const [k] of mergeNewest(sources)) if (k === 'b') break;
    assert.deepEqual(
      sources.map((s) => s.returned),
      [true, true],
    );
  });

  it('leaves no LMDB read transaction open after a short scan page or an expiry page', async () => {
    const dir = tempDir(after);
    const s = await openTestLsm(dir, { memtableBytes: 4096, idleCompactMs: 50 });
    /** compacted writes `n` keys from `from` and waits until an idle compaction put them in LMDB (a commit there). */
    const compacted = async (from: number, n: number): Promise<void> => {
      for (let i = from; i < from + n; i++)
        await s.put(b(`k${String(i).padStart(4, '0')}`), b(`v${i}`), Date.now() + 60_000);
      await s.flush();
      await waitUntil(() => {
        const st = s.stats();
        return st.runs === 0 && st.memtableKeys === 0 && st.frozenMemtables === 0;
      }, 'an idle compaction into LMDB');
      await s.idle();
    };
    try {
      const file = join(dir, 'lmdb', 'data.mdb');
      await compacted(0, 200);
      assert.equal(s.scan(b('k'), undefined, 2).length, 2);
      assert.equal(s.expiring(undefined, 10).entries.length, 10);
      await compacted(200, 50);
      assert.deepEqual(
        staleReaders(file),
        [],
        'a read transaction older than the last commit (pid thread txnid)',
      );
    } finally {
      await s.close();
    }
  });
});
