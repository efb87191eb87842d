import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseLine } from '../../src/cli/load.js';
import { DistkvError } from '../../src/errors.js';
import { BulkLoader } from '../../src/storage/bulk-load.js';
import { LOADING_MARKER } from '../../src/storage/bulk-load-marker.js';
import { RealVfs } from '../../src/storage/real-vfs.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);
const str = (v: Uint8Array | undefined): string | undefined =>
  v === undefined ? undefined : Buffer.from(v).toString();

describe('bulk load', () => {
  it('loads an empty store straight into LMDB; the store opens at seq S and continues at S + 1', async () => {
    const dir = tempDir(after);
    const l = await BulkLoader.open(dir, new RealVfs());
    await l.add([
      { key: b('b'), value: b('2') },
      { key: b('a'), value: b('1') },
      { key: b('b'), value: b('2-later') },
    ]);
    await l.add([{ key: b('c'), value: b('3') }]);
    assert.equal(await l.finish(undefined), 3, 'S = distinct keys loaded');
    assert.equal(existsSync(join(dir, LOADING_MARKER)), false);
    const s = await openTestLsm(dir);
    assert.equal(s.lastSeq(), 3);
    assert.equal(str(s.get(b('b'))), '2-later', 'a later line for the same key wins');
    assert.deepEqual(
      s.scan(b(''), undefined, 10).map((e) => str(e.key)),
      ['a', 'b', 'c'],
    );
    assert.equal((await s.put(b('d'), b('4'))).seq, 4);
    assert.equal(s.stats().runs, 0);
    await s.close();
  });

  it('refuses a store that holds writes, naming it', async () => {
    const dir = tempDir(after);
    const s = await openTestLsm(dir);
    await s.put(b('x'), b('1'));
    await s.close();
    await assert.rejects(
      BulkLoader.open(dir, new RealVfs()),
      (err: unknown) =>
        err instanceof DistkvError && err.code === 'BULK_LOAD_REFUSED' && err.message.includes(dir),
    );
  });

  it('refuses a finished load, but lets an unfinished one (marker left) run again', async () => {
    const dir = tempDir(after);
    const first = await BulkLoader.open(dir, new RealVfs());
    await first.add([{ key: b('k'), value: b('v') }]);
    await first.abort();
    assert.ok(existsSync(join(dir, LOADING_MARKER)), 'the marker stays after an unfinished load');
    const again = await BulkLoader.open(dir, new RealVfs());
    await again.add([
      { key: b('k'), value: b('v') },
      { key: b('m'), value: b('w') },
    ]);
    assert.equal(await again.finish(undefined), 2);
    await assert.rejects(BulkLoader.open(dir, new RealVfs()), /holds data through seq 2/);
  });

  it('lets a load run again that was killed after LMDB synced it but before its marker was removed', async () => {
    // finish() makes LMDB durable with applied_seq = S, then deletes its runs and the marker: a
    // kill in between leaves the marker, so serve refuses the store and says to run the load again.
    const dir = tempDir(after);
    const first = await BulkLoader.open(dir, new RealVfs());
    await first.add([{ key: b('k'), value: b('v') }]);
    assert.equal(await first.finish(undefined), 1);
    writeFileSync(join(dir, LOADING_MARKER), 'bulk load in progress\n');
    const again = await BulkLoader.open(dir, new RealVfs());
    await again.add([{ key: b('k'), value: b('v') }]);
    assert.equal(await again.finish(undefined), 1);
    const s = await openTestLsm(dir);
    assert.equal(str(s.get(b('k'))), 'v');
    await s.close();
  });

  it('refuses base64 that is not canonical and text with a lone surrogate, rather than load other bytes', () => {
    // Buffer.from skips what is not base64 and puts U+FFFD for a lone surrogate: each line below
    // loaded bytes it does not say.
    assert.throws(
      () => parseLine('{"key":"k","value_base64":"AA E="}', 3, 1024, 10),
      /line 3: "value_base64" is not canonical base64/,
    );
    assert.throws(
      () => parseLine('{"key":"k","value_base64":"AAE"}', 4, 1024, 10),
      /line 4: "value_base64" is not canonical base64/,
    );
    assert.throws(
      () => parseLine('{"key":"k","key_base64":"cY-A","value":"v"}', 5, 1024, 10),
      /line 5: "key_base64" is not canonical base64/,
    );
    assert.throws(
      () => parseLine('{"key":"k\\ud800","value":"v"}', 6, 1024, 10),
      /line 6: "key" has a lone UTF-16 surrogate/,
    );
    assert.throws(
      () => parseLine('{"key":"k","value":"\\udc00x"}', 7, 1024, 10),
      /line 7: "value" has a lone UTF-16 surrogate/,
    );
    assert.deepEqual(
      parseLine('{"key":"k","value":"\\ud83d\\ude00"}', 8, 1024, 10).value,
      Buffer.from('\u{1F600}'),
      'a pair is a character',
    );
  });

  it('parses JSON lines with string or base64 values, naming the line of a bad one', () => {
    assert.deepEqual(parseLine('{"key":"k","value":"v"}', 1, 1024, 10), { key: b('k'), value: b('v') });
    assert.deepEqual(parseLine('{"key":"k","value_base64":"AAE="}', 1, 1024, 10).value, Buffer.from([0, 1]));
    assert.deepEqual(
      parseLine('{"key":"q\uFFFD","key_base64":"cYA=","value":"v"}', 1, 1024, 10).key,
      Buffer.from([0x71, 0x80]),
      'a key that is not UTF-8, as scan --json gives it',
    );
    assert.throws(() => parseLine('{"key":"k"', 7, 1024, 10), /line 7: not JSON/);
    assert.throws(() => parseLine('{"key":"","value":"v"}', 8, 1024, 10), /line 8: "key"/);
    assert.throws(
      () => parseLine('{"key":"k","value":"12345678901"}', 9, 1024, 10),
      /line 9: value is 11 bytes; limit is 10/,
    );
    assert.throws(
      () => parseLine('{"key":"kkk","value":"v"}', 10, 2, 10),
      /line 10: key is 3 bytes; limit is 2/,
    );
  });
});
