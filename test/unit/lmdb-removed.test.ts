/**
 * A store whose LMDB level (`lmdb/`) was removed by hand (src/storage/lmdb-presence.ts;
 * docs/operations.md, "Damage on disk"). LMDB creates an environment wherever it is opened: after a
 * bulk load (whose seqs no log record holds) the store opened as a new, empty one and was served
 * empty; after writes it was refused, but as a run deleted by hand, naming a run that never
 * existed. Now recovery refuses it naming `lmdb/`, whenever the store holds a file only written
 * once its LMDB existed (its `commit-log` pointer, its `history.json`); a new store, and a store
 * whose first open stopped anywhere before it wrote its pointer, still open.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CorruptionError, DistkvError } from '../../src/errors.js';
import { BulkLoader } from '../../src/storage/bulk-load.js';
import { newHistoryId } from '../../src/storage/history-format.js';
import { LmdbLevel } from '../../src/storage/lmdb-level.js';
import { RealVfs } from '../../src/storage/real-vfs.js';
import { openTestGroup } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);
const str = (v: Uint8Array | undefined): string | undefined =>
  v === undefined ? undefined : Buffer.from(v).toString();

/** paths returns a worker's log directory and one store directory under a fresh data directory. */
function paths(): { logDir: string; dir: string } {
  const root = tempDir(after);
  return { logDir: join(root, 'log', 'w0'), dir: join(root, 'node_1', 'shard-0') };
}

/** load bulk-loads `n` keys into the store in `dir`, naming a history as `distkv load` does for a leader. */
async function load(dir: string, n: number): Promise<void> {
  const l = await BulkLoader.open(dir, new RealVfs());
  await l.add(Array.from({ length: n }, (_, i) => ({ key: b(`k${i}`), value: b(`v${i}`) })));
  await l.finish(newHistoryId());
}

/** serve opens the store, runs `work` on it and closes it and its log cleanly. */
async function serve(
  logDir: string,
  dir: string,
  work: (s: Awaited<ReturnType<typeof openTestGroup>>['stores'][number]) => Promise<void> | void,
): Promise<void> {
  const { log, stores } = await openTestGroup(logDir, [dir]);
  try {
    await work(stores[0]!);
  } finally {
    for (const s of stores) await s.close();
    await log.close();
  }
}

/** openError opens the store and returns the error it was refused with (failing when it opened). */
async function openError(logDir: string, dir: string, repair = false): Promise<DistkvError> {
  const err = await openTestGroup(logDir, [dir], { repair }).then(
    async ({ log, stores }) => {
      const held = stores[0]?.lastSeq();
      for (const s of stores) await s.close();
      await log.close();
      return new Error(`the store opened (last seq ${String(held)}) without its LMDB`);
    },
    (e: unknown) => e,
  );
  assert.ok(err instanceof DistkvError, String(err));
  return err;
}

/** assertNamesLmdb checks a refusal names the store's lmdb/ and no run. */
function assertNamesLmdb(err: DistkvError, dir: string): void {
  assert.ok(err instanceof CorruptionError, err.message);
  assert.equal(err.file, join(dir, 'lmdb', 'data.mdb'));
  assert.match(err.message, /its LMDB level .*\/lmdb\/ is missing/);
  assert.doesNotMatch(err.message, /a run was deleted|a run older than|missing run/, 'it blames a run');
  assert.match(err.message, /Put .*\/lmdb\/ back/);
  assert.match(err.message, /remove the store directory/);
}

describe('a store whose lmdb/ was removed by hand', () => {
  it('is refused after a bulk load, naming lmdb/ (before: opened empty, every key gone)', async () => {
    const { logDir, dir } = paths();
    await load(dir, 50);
    rmSync(join(dir, 'lmdb'), { recursive: true });
    assertNamesLmdb(await openError(logDir, dir), dir);
  });

  it('is refused after a load and one clean serve without writes (its pointer and history say it had one)', async () => {
    const { logDir, dir } = paths();
    await load(dir, 50);
    await serve(logDir, dir, (s) => {
      assert.equal(str(s.get(b('k1'))), 'v1');
    });
    rmSync(join(dir, 'lmdb'), { recursive: true });
    assertNamesLmdb(await openError(logDir, dir), dir);
  });

  it('is refused after a load and writes, naming lmdb/, not a run that never existed', async () => {
    const { logDir, dir } = paths();
    await load(dir, 50);
    await serve(logDir, dir, async (s) => {
      await s.put(b('after-load'), b('x'));
    });
    rmSync(join(dir, 'lmdb'), { recursive: true });
    assertNamesLmdb(await openError(logDir, dir), dir);
  });

  it('is refused when served stores took enough writes to flush runs (its runs start above seq 1)', async () => {
    const { logDir, dir } = paths();
    await serve(logDir, dir, async (s) => {
      for (let i = 0; i < 200; i++) await s.put(b(`w${i}`), Buffer.alloc(1024, i));
    });
    rmSync(join(dir, 'lmdb'), { recursive: true });
    assertNamesLmdb(await openError(logDir, dir), dir);
  });

  it('is refused with an empty data.mdb in its place too (LMDB takes one for a new environment)', async () => {
    const { logDir, dir } = paths();
    await load(dir, 5);
    writeFileSync(join(dir, 'lmdb', 'data.mdb'), '');
    assertNamesLmdb(await openError(logDir, dir), dir);
  });

  it('is refused with --repair as well: what LMDB held is in no other file', async () => {
    const { logDir, dir } = paths();
    await load(dir, 5);
    rmSync(join(dir, 'lmdb'), { recursive: true });
    assertNamesLmdb(await openError(logDir, dir, true), dir);
  });

  it('opens empty once the store directory is removed, as the refusal advises', async () => {
    const { logDir, dir } = paths();
    await load(dir, 5);
    rmSync(join(dir, 'lmdb'), { recursive: true });
    await openError(logDir, dir);
    rmSync(dir, { recursive: true });
    await serve(logDir, dir, (s) => {
      assert.equal(s.lastSeq(), 0);
    });
  });

  it('still reports a file where lmdb/ belongs as such (DATA_DIR_UNUSABLE)', async () => {
    const { logDir, dir } = paths();
    await load(dir, 5);
    rmSync(join(dir, 'lmdb'), { recursive: true });
    writeFileSync(join(dir, 'lmdb'), 'x');
    assert.equal((await openError(logDir, dir)).code, 'DATA_DIR_UNUSABLE');
  });
});

describe('a store without an LMDB that never had one', () => {
  /** opensAndKeeps opens the store, writes a key, and checks a second open (its LMDB now its own) keeps it. */
  async function opensAndKeeps(logDir: string, dir: string): Promise<void> {
    await serve(logDir, dir, async (s) => {
      assert.equal(s.lastSeq(), 0);
      await s.put(b('a'), b('1'));
    });
    await serve(logDir, dir, (s) => {
      assert.equal(str(s.get(b('a'))), '1');
    });
  }

  it('opens when its directory is new', async () => {
    const { logDir, dir } = paths();
    await opensAndKeeps(logDir, dir);
  });

  it('opens after a first open stopped once runs/ was made, before LMDB was', async () => {
    const { logDir, dir } = paths();
    mkdirSync(join(dir, 'runs'), { recursive: true });
    await opensAndKeeps(logDir, dir);
  });

  it('opens after a first open stopped with LMDB half created (its lock file, an empty data.mdb)', async () => {
    const { logDir, dir } = paths();
    mkdirSync(join(dir, 'runs'), { recursive: true });
    mkdirSync(join(dir, 'lmdb'));
    writeFileSync(join(dir, 'lmdb', 'data.mdb-lock'), '');
    writeFileSync(join(dir, 'lmdb', 'data.mdb'), '');
    await opensAndKeeps(logDir, dir);
  });

  it('opens after a first open stopped once LMDB was created, before the store wrote its pointer', async () => {
    const { logDir, dir } = paths();
    mkdirSync(join(dir, 'runs'), { recursive: true });
    await new LmdbLevel(dir).close();
    await opensAndKeeps(logDir, dir);
  });

  it('opens after a resync wipe stopped before it removed lmdb/ (it goes last)', async () => {
    const { logDir, dir } = paths();
    await load(dir, 5);
    for (const name of ['runs', 'history.json']) rmSync(join(dir, name), { recursive: true });
    writeFileSync(join(dir, 'resync.json'), '{"loading":true}\n');
    await serve(logDir, dir, (s) => {
      assert.equal(
        s.lastSeq(),
        5,
        'what the half-wiped store holds; its resync marker makes the replica resync',
      );
    });
  });
});
