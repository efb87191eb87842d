/**
 * A store's pointer to its commit log carries the log's id (docs/commit-log-format.md, "A store's
 * log"): a log directory replaced as a whole, `.log-id` included (here worker 1's log restored as
 * worker 0's), is refused at open naming the store and the log directory, instead of each store
 * silently missing its own records (or replaying another's); `--repair` opens the stores from their
 * own files alone; a pointer of the previous version (a path alone) still opens and gets the id, and
 * a store directory copied to another node after a clean stop (a shard moved) still opens there.
 */
import assert from 'node:assert/strict';
import { cpSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CorruptionError } from '../../src/errors.js';
import { readLogId } from '../../src/storage/commit-log-identity.js';
import { HOME_FILE } from '../../src/storage/commit-log-home.js';
import { RealVfs } from '../../src/storage/real-vfs.js';
import { openTestGroup } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

const OPTS = { memtableBytes: 1 << 20 };
const b = (s: string): Buffer => Buffer.from(s);

/**
 * crashImage writes 20 keys into each store of two workers (their memtables hold them all, so they
 * are only in the workers' logs) and copies the data directory to `image` while they are open, as
 * a crash leaves it.
 */
async function crashImage(live: string, image: string): Promise<void> {
  const groups = [
    await openTestGroup(
      join(live, 'log', 'w0'),
      [join(live, 'n', 'shard-0'), join(live, 'n', 'shard-1')],
      OPTS,
    ),
    await openTestGroup(join(live, 'log', 'w1'), [join(live, 'n', 'shard-2')], OPTS),
  ];
  for (const g of groups)
    for (const s of g.stores) for (let i = 0; i < 20; i++) await s.put(b(`k${i}`), b(`v${i}`));
  cpSync(live, image, { recursive: true });
  for (const g of groups) {
    for (const s of g.stores) await s.close();
    await g.log.close();
  }
}

describe("a store's pointer to its commit log", () => {
  it("refuses a log directory replaced as a whole by another worker's", async () => {
    const root = tempDir(after);
    const image = join(root, 'image');
    await crashImage(join(root, 'live'), image);
    const w0 = join(image, 'log', 'w0');
    renameSync(w0, join(root, 'w0-aside'));
    cpSync(join(image, 'log', 'w1'), w0, { recursive: true });
    const stores = [join(image, 'n', 'shard-0'), join(image, 'n', 'shard-1')];

    await assert.rejects(openTestGroup(w0, stores, OPTS), (err: unknown) => {
      assert.ok(err instanceof CorruptionError, String(err));
      assert.equal(err.file, join(w0, '.log-id'));
      assert.ok(err.message.includes(stores[0]!) && err.message.includes(w0), err.message);
      assert.match(err.message, /--repair/);
      return true;
    });

    // --repair: each store opens from its own files alone (nothing flushed: empty), into this log.
    const repaired = await openTestGroup(w0, stores, { ...OPTS, repair: true });
    for (const s of repaired.stores) {
      assert.equal(s.lastSeq(), 0);
      assert.equal(s.get(b('k1')), undefined);
    }
    const id = readLogId(new RealVfs(), w0)!.id;
    for (const s of repaired.stores) await s.put(b('after'), b('repair'));
    for (const s of repaired.stores) await s.close();
    await repaired.log.close();
    // Closed cleanly: the pointer also says its log holds nothing the store needs.
    for (const dir of stores)
      assert.equal(
        readFileSync(join(dir, HOME_FILE), 'utf8'),
        `../../log/w0\n${id}\nn/${basename(dir)}\nflushed\n`,
      );
    // Bound to this log now: it opens without --repair.
    const again = await openTestGroup(w0, stores, OPTS);
    for (const s of again.stores) assert.equal(s.lastSeq(), 1);
    for (const s of again.stores) await s.close();
    await again.log.close();
  });

  it('refuses the log a moved store last wrote to when that directory was replaced', async () => {
    const root = tempDir(after);
    const image = join(root, 'image');
    await crashImage(join(root, 'live'), image);
    // shard-2 moves to worker 0 (the worker count changed): it reads its records from w1, which
    // was replaced by a copy of another log.
    const w1 = join(image, 'log', 'w1');
    renameSync(w1, join(root, 'w1-aside'));
    cpSync(join(image, 'log', 'w0'), w1, { recursive: true });
    const moved = join(image, 'n', 'shard-2');
    await assert.rejects(openTestGroup(join(image, 'log', 'w0'), [moved], OPTS), (err: unknown) => {
      assert.ok(err instanceof CorruptionError, String(err));
      assert.equal(err.file, join(w1, '.log-id'));
      assert.ok(err.message.includes(moved), err.message);
      return true;
    });
  });

  it('opens a store whose pointer is of the previous version and records the id', async () => {
    const root = tempDir(after);
    const log = join(root, 'log', 'w0');
    const dir = join(root, 'n', 'shard-0');
    const first = await openTestGroup(log, [dir], OPTS);
    for (let i = 0; i < 5; i++) await first.stores[0]!.put(b(`k${i}`), b(`v${i}`));
    await first.stores[0]!.close();
    await first.log.close();
    writeFileSync(join(dir, HOME_FILE), '../../log/w0\n');

    const second = await openTestGroup(log, [dir], OPTS);
    assert.equal(second.stores[0]!.lastSeq(), 5);
    await second.stores[0]!.close();
    await second.log.close();
    const id = readLogId(new RealVfs(), log)!.id;
    assert.equal(readFileSync(join(dir, HOME_FILE), 'utf8'), `../../log/w0\n${id}\nn/shard-0\nflushed\n`);
  });

  it("opens a cleanly stopped store copied to another node's directory in that node's log", async () => {
    // A shard moved by a config change (docs/operations.md): its store directory, pointer
    // included, is copied into another node's directory, whose log is another one.
    const root = tempDir(after);
    const from = join(root, 'b', 'b-node', 'shard-1');
    const first = await openTestGroup(join(root, 'b', 'log', 'w0'), [from], OPTS);
    for (let i = 0; i < 5; i++) await first.stores[0]!.put(b(`k${i}`), b(`v${i}`));
    await first.stores[0]!.close();
    await first.log.close();
    const other = await openTestGroup(
      join(root, 'c', 'log', 'w0'),
      [join(root, 'c', 'c-node', 'shard-0')],
      OPTS,
    );
    await other.stores[0]!.close();
    await other.log.close();

    const to = join(root, 'c', 'c-node', 'shard-1');
    cpSync(from, to, { recursive: true });
    const moved = await openTestGroup(join(root, 'c', 'log', 'w0'), [to], OPTS);
    assert.equal(moved.stores[0]!.lastSeq(), 5);
    assert.deepEqual(moved.stores[0]!.get(b('k4')), b('v4'));
    await moved.stores[0]!.close();
    await moved.log.close();
    const id = readLogId(new RealVfs(), join(root, 'c', 'log', 'w0'))!.id;
    assert.equal(readFileSync(join(to, HOME_FILE), 'utf8'), `../../log/w0\n${id}\nc-node/shard-1\nflushed\n`);
  });
});
