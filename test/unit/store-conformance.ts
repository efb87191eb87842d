/**
 * The Store conformance suite: every Store implementation must pass it (see src/storage/store.ts).
 * `open(dir)` opens the implementation on a directory; `reopen` says whether data must survive close.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { scanPageFull, type Store } from '../../src/storage/store.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');
const str = (v: Uint8Array | undefined): string | undefined =>
  v === undefined ? undefined : Buffer.from(v).toString('utf8');

/** storeConformance registers the shared suite for one implementation. */
export function storeConformance(
  name: string,
  openSync: (dir: string) => Store | Promise<Store>,
  persistent: boolean,
): void {
  const open = async (dir: string): Promise<Store> => openSync(dir);
  describe(`Store conformance: ${name}`, () => {
    it('reads back what it wrote, and undefined for a missing key', async () => {
      const s = await open(tempDir(after));
      await s.put(b('a'), b('1'));
      assert.equal(str(s.get(b('a'))), '1');
      assert.equal(s.get(b('zz')), undefined);
      await s.close();
    });

    it('gives every write the next sequence number, starting at 1', async () => {
      const s = await open(tempDir(after));
      const seqs = await Promise.all([s.put(b('a'), b('1')), s.put(b('b'), b('2')), s.delete(b('a'))]);
      assert.deepEqual(
        seqs.map((r) => r.seq),
        [1, 2, 3],
      );
      assert.equal(s.lastSeq(), 3);
      await s.close();
    });

    it('overwrites, deletes, and treats deleting a missing key as a no-op write', async () => {
      const s = await open(tempDir(after));
      await s.put(b('k'), b('old'));
      await s.put(b('k'), b('new'));
      assert.equal(str(s.get(b('k'))), 'new');
      await s.delete(b('k'));
      assert.equal(s.get(b('k')), undefined);
      await s.delete(b('never'));
      await s.close();
    });

    it('stores binary values and empty values exactly', async () => {
      const s = await open(tempDir(after));
      const bin = Buffer.from([0, 255, 1, 254, 0]);
      await s.put(b('bin'), bin);
      await s.put(b('empty'), Buffer.alloc(0));
      assert.deepEqual(Buffer.from(s.get(b('bin'))!), bin);
      assert.equal(s.get(b('empty'))?.length, 0);
      await s.close();
    });

    it('scans a prefix in byte order, after a cursor, up to a limit, hiding deleted keys', async () => {
      const s = await open(tempDir(after));
      for (const k of ['p/b', 'p/a', 'p/c', 'q/a', 'p/é', 'o']) await s.put(b(k), b(`v-${k}`));
      await s.delete(b('p/c'));
      assert.deepEqual(
        s.scan(b('p/'), undefined, 10).map((e) => str(e.key)),
        ['p/a', 'p/b', 'p/é'],
      );
      assert.deepEqual(
        s.scan(b('p/'), b('p/a'), 1).map((e) => str(e.key)),
        ['p/b'],
      );
      assert.equal(str(s.scan(b('p/'), undefined, 1)[0]?.value), 'v-p/a');
      assert.equal(s.scan(b(''), undefined, 100).length, 5);
      await s.close();
    });

    it('ends a scan page after the entry that brings its bytes to maxBytes, and resumes exactly after it', async () => {
      const s = await open(tempDir(after));
      // keys and values: a 3, b 5 (value 4), c 0, d 7 (value 6), e 1001
      await s.put(b('a'), b('xy'));
      await s.put(b('b'), b('four'));
      await s.put(b('c'), b(''));
      await s.put(b('d'), b('sixsix'));
      await s.put(b('e'), Buffer.alloc(1000, 1));
      const keys = (page: { key: Uint8Array }[]): (string | undefined)[] => page.map((e) => str(e.key));
      assert.deepEqual(keys(s.scan(b(''), undefined, 100, 8)), ['a', 'b'], 'stops at 8 bytes, not before');
      assert.deepEqual(
        keys(s.scan(b(''), undefined, 100, 10)),
        ['a', 'b', 'c', 'd'],
        'the entry that passes it is in',
      );
      assert.deepEqual(keys(s.scan(b(''), undefined, 100, 1)), ['a'], 'one entry over the bound is a page');
      assert.deepEqual(keys(s.scan(b(''), b('c'), 100, 1)), ['d']);
      assert.deepEqual(keys(s.scan(b(''), undefined, 2, 1 << 20)), ['a', 'b'], 'the count still bounds it');
      assert.equal(scanPageFull(s.scan(b(''), undefined, 100, 8), 100, 8), true);
      assert.equal(scanPageFull(s.scan(b(''), b('d'), 100, 1002), 100, 1002), false, 'the end of the range');
      assert.equal(scanPageFull(s.scan(b(''), b('d'), 100, 1001), 100, 1001), true, 'full at its last entry');
      assert.deepEqual(keys(s.scan(b(''), b('e'), 100, 1001)), []);
      await s.close();
    });

    it('counts keys in stats', async () => {
      const s = await open(tempDir(after));
      await Promise.all([s.put(b('a'), b('1')), s.put(b('b'), b('2'))]);
      const st = s.stats();
      assert.equal(st.keys, 2);
      assert.equal(st.lastSeq, 2);
      assert.equal(st.engine, s.engine);
      await s.close();
    });

    it('refuses writes after close', async () => {
      const s = await open(tempDir(after));
      await s.close();
      await assert.rejects(async () => s.put(b('a'), b('1')), /closed/);
    });

    if (persistent) {
      it('keeps acknowledged writes and the sequence across close and reopen', async () => {
        const dir = tempDir(after);
        const s = await open(dir);
        await s.put(b('a'), b('1'));
        await s.put(b('b'), b('2'));
        await s.delete(b('a'));
        await s.close();
        const s2 = await open(dir);
        assert.equal(s2.get(b('a')), undefined);
        assert.equal(str(s2.get(b('b'))), '2');
        assert.equal(s2.lastSeq(), 3);
        await s2.close();
      });
    }
  });
}
