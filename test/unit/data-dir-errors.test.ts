/**
 * Errors that name the path, what is wrong and what to do (src/storage/dir-errors.ts), where they
 * misled before:
 *  - a data directory distkv may not enter was reported as an unreadable live map, with the advice
 *    to remove the map (which would not help, and could make a demoted leader lead again);
 *  - a file where `runs/` or `lmdb/` (or a store directory) belongs gave mkdir's bare EEXIST or
 *    ENOTDIR;
 *  - a memtable flush failing with EMFILE refused writes as 507 DISK_FULL, sending the operator
 *    to free disk space instead of raising the open-file limit.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DistkvError } from '../../src/errors.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import { openTestGroup } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);

/** openError opens the store in `dir` (log in `logDir`) and returns the error it fails with. */
async function openError(logDir: string, dir: string): Promise<DistkvError> {
  const err = await openTestGroup(logDir, [dir]).then(
    async ({ log, stores }) => {
      for (const s of stores) await s.close();
      await log.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  assert.ok(err instanceof DistkvError, `not a DistkvError: ${String(err)}`);
  return err;
}

describe('a file where a store directory belongs', () => {
  for (const sub of ['runs', 'lmdb']) {
    it(`names ${sub}/, says it is a file, and what to do (DATA_DIR_UNUSABLE, not EEXIST)`, async () => {
      const root = tempDir(after);
      const dir = join(root, 'node_1', 'shard-0');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, sub), 'x');
      const err = await openError(join(root, 'log', 'w0'), dir);
      assert.equal(err.code, 'DATA_DIR_UNUSABLE');
      assert.match(err.message, new RegExp(`^${join(dir, sub)} is a file, not a directory: `));
      assert.match(err.message, /move the file out of the way/);
    });
  }

  it('names the file on the way to the store directory (ENOTDIR before)', async () => {
    const root = tempDir(after);
    writeFileSync(join(root, 'node_1'), 'x');
    const dir = join(root, 'node_1', 'shard-0');
    const err = await openError(join(root, 'log', 'w0'), dir);
    assert.equal(err.code, 'DATA_DIR_UNUSABLE');
    assert.match(
      err.message,
      new RegExp(`^${join(root, 'node_1')} is a file, not a directory \\(on the way to ${dir}`),
    );
  });
});

describe('a data directory distkv may not enter', () => {
  it('is named as the data directory, not as an unreadable live map to remove', (t) => {
    const root = tempDir(after);
    chmodSync(root, 0o755);
    const dataDir = join(root, 'data');
    mkdirSync(dataDir);
    // As root every directory can be entered: run the check as nobody, on a directory it owns.
    const asRoot = process.getuid?.() === 0;
    if (asRoot) chownSync(dataDir, 65534, 65534);
    chmodSync(dataDir, 0o000);
    const module = fileURLToPath(new URL('../../src/server/live-map-file.js', import.meta.url));
    const script =
      `const { loadLiveMap } = await import(${JSON.stringify(module)});` +
      `try { loadLiveMap(${JSON.stringify(dataDir)}, [{ name: 's', idx: 0, address: '127.0.0.1:7001', replicas: [], slots: { first: 0, last: 16383 } }]); console.log('loaded'); }` +
      `catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
    });
    chmodSync(dataDir, 0o700); // so that the temp dir can be removed
    if (run.error !== undefined || run.status !== 0) {
      t.skip(`cannot run as another user here: ${run.error?.message ?? run.stderr}`);
      return;
    }
    const out = JSON.parse(run.stdout) as { code: string; message: string };
    assert.equal(out.code, 'DATA_DIR_UNUSABLE');
    assert.match(
      out.message,
      new RegExp(`^cannot read the data directory ${dataDir}: permission denied \\(EACCES\\)`),
    );
    assert.match(out.message, /chown -R/);
    assert.doesNotMatch(out.message, /live map|remove it/);
  });
});

describe('a memtable flush that runs out of file descriptors', () => {
  it('refuses writes with TOO_MANY_OPEN_FILES naming the limit to raise, not DISK_FULL', async () => {
    const root = tempDir(after);
    const vfs = new FaultyVfs();
    const { log, stores } = await openTestGroup(join(root, 'log', 'w0'), [join(root, 'node_1', 'shard-0')], {
      vfs,
      memtableBytes: 4096,
      walSegmentBytes: 1 << 20,
      retryMinMs: 5,
      retryMaxMs: 5,
    });
    const store = stores[0]!;
    try {
      vfs.failOpens(1_000_000);
      let refused: unknown;
      for (let k = 0; k < 200 && refused === undefined; k++)
        await store.put(b(`k${k}`), Buffer.alloc(1000, 1)).catch((e: unknown) => (refused = e));
      assert.ok(refused instanceof DistkvError, `no write was refused: ${String(refused)}`);
      assert.equal(refused.code, 'TOO_MANY_OPEN_FILES');
      assert.equal(refused.status, 503);
      assert.match(refused.message, /too many open files/);
      assert.match(refused.message, /LimitNOFILE/);
    } finally {
      vfs.failOpens(0);
      await store.close();
      await log.close();
    }
  });
});
