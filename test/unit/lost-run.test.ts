/**
 * Runs lost from under an LSM store (deleted or cut short by hand) beyond the gap between two live
 * runs that test/unit/missing-run.test.ts covers: the oldest live run, and the newest once the
 * commit log no longer holds all its writes. Each must stop the store from opening, naming the
 * file (or the seqs no file holds) and `--repair`, as LevelDB's MANIFEST makes it refuse a missing
 * table; with repair it opens without them, and a later start accepts what the repair reported.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CorruptionError } from '../../src/errors.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { openTestGroup, openTestLsm } from '../helpers/lsm.js';
import { runKey, storeWithRuns } from '../helpers/run-rounds.js';
import { tempDir } from '../helpers/temp-dir.js';

const key = runKey;

/** bigRounds writes `rounds` rounds of 100 keys with 400-byte values (about a 32 KiB log segment per 65), a run each. */
async function bigRounds(s: LsmStore, rounds: number, tag = 'key'): Promise<void> {
  for (let round = 1; round <= rounds; round++) {
    for (let i = 0; i < 100; i++)
      await s.put(Buffer.from(`${tag}${i}`), Buffer.from(`round ${round} `.padEnd(400, '.')));
    await s.flush();
  }
}

/** openFails asserts that opening the store in `dir` is refused as corruption naming `file` and saying `what`. */
async function openFails(open: Promise<unknown>, file: string, what: RegExp): Promise<void> {
  await assert.rejects(open, (err: unknown) => {
    assert.ok(err instanceof CorruptionError, String(err));
    assert.equal(err.file, file);
    assert.match(err.message, what);
    assert.match(err.message, /--repair/);
    return true;
  });
}

describe('runs lost from under a store', () => {
  it('refuses a store whose oldest run is missing, naming the file and what to do', async () => {
    const { dir } = await storeWithRuns(tempDir(after));
    rmSync(join(dir, 'runs', '000001.sst'));
    await openFails(
      openTestLsm(dir, { maxRuns: 16 }),
      join(dir, 'runs', '000001.sst'),
      /older than 000002\.sst is missing/,
    );
  });

  it('with repair, opens without the oldest run, and then opens without repair', async () => {
    const { dir } = await storeWithRuns(tempDir(after));
    rmSync(join(dir, 'runs', '000001.sst'));
    const s = await openTestLsm(dir, { maxRuns: 16, repair: true });
    assert.equal(Buffer.from(s.get(key(7))!).toString(), 'round 4');
    await s.close();
    assert.ok(existsSync(join(dir, 'runs', '000001.sst.missing')));
    await (await openTestLsm(dir, { maxRuns: 16 })).close();
  });

  it('refuses a store whose newest run is missing while its log holds only later records of it', async () => {
    const dir = join(tempDir(after), 'node', 'shard-0');
    const s = await openTestLsm(dir, { maxRuns: 16 });
    await bigRounds(s, 4);
    await s.close();
    rmSync(join(dir, 'runs', '000004.sst'));
    await openFails(
      openTestLsm(dir, { maxRuns: 16 }),
      join(dir, 'runs'),
      /writes at seqs 301\.\.\d+ are in no file/,
    );
    const repaired = await openTestLsm(dir, { maxRuns: 16, repair: true });
    await repaired.close();
  });

  it('refuses a store whose newest run is missing once its log holds nothing of it', async () => {
    const root = tempDir(after);
    const dirs = [join(root, 'node', 'shard-0'), join(root, 'node', 'shard-1')];
    const first = await openTestGroup(join(root, 'log'), dirs, { maxRuns: 16 });
    await bigRounds(first.stores[0]!, 4);
    // The other store's writes roll the log on, and its flushes let the first store's records go.
    await bigRounds(first.stores[1]!, 4, 'other');
    for (const st of first.stores) await st.close();
    await first.log.close();
    rmSync(join(dirs[0]!, 'runs', '000004.sst'));
    await openFails(
      openTestGroup(join(root, 'log'), dirs, { maxRuns: 16 }),
      join(dirs[0]!, 'runs'),
      /writes at seqs 301\.\.400 are in no file/,
    );
    const repaired = await openTestGroup(join(root, 'log'), dirs, { maxRuns: 16, repair: true });
    assert.equal(
      Buffer.from(repaired.stores[0]!.get(Buffer.from('key7'))!)
        .toString()
        .slice(0, 7),
      'round 3',
    );
    for (const st of repaired.stores) await st.close();
    await repaired.log.close();
    const again = await openTestGroup(join(root, 'log'), dirs, { maxRuns: 16 });
    for (const st of again.stores) await st.close();
    await again.log.close();
  });

  it('opens a store whose newest run is missing while its log still holds every write of it', async () => {
    const { dir } = await storeWithRuns(tempDir(after));
    rmSync(join(dir, 'runs', '000004.sst'));
    const s = await openTestLsm(dir, { maxRuns: 16 });
    assert.equal(Buffer.from(s.get(key(7))!).toString(), 'round 4');
    await s.close();
  });
});

describe('a store directory replaced by an older copy of itself', () => {
  it('is refused, saying so, while the log holds later records of it', async () => {
    const root = tempDir(after);
    const dirs = [join(root, 'node', 'shard-0'), join(root, 'node', 'shard-1')];
    const first = await openTestGroup(join(root, 'log'), dirs, { maxRuns: 16 });
    await bigRounds(first.stores[0]!, 2);
    for (const st of first.stores) await st.close();
    await first.log.close();
    cpSync(dirs[0]!, join(root, 'copy'), { recursive: true });
    const second = await openTestGroup(join(root, 'log'), dirs, { maxRuns: 16 });
    await bigRounds(second.stores[0]!, 2, 'later');
    // The other store's writes roll the log on past those records; the last round stays in it.
    await bigRounds(second.stores[1]!, 4, 'other');
    await bigRounds(second.stores[0]!, 1, 'last');
    for (const st of second.stores) await st.close();
    await second.log.close();
    rmSync(dirs[0]!, { recursive: true });
    cpSync(join(root, 'copy'), dirs[0]!, { recursive: true });
    await openFails(
      openTestGroup(join(root, 'log'), dirs, { maxRuns: 16 }),
      join(dirs[0]!, 'runs'),
      /writes at seqs 201\.\.\d+ are in no file.*replaced by an older copy/,
    );
  });
});
