/**
 * The history id file (src/storage/history-format.ts; docs/wal-format.md, "History ids"): it names
 * the shard and node directory of the store that wrote it, a file of another shard (copied from
 * another store's directory) is refused naming both, a file from before shard names is read and
 * given them, and the errors say what an operator can do and what follows (they advised removing
 * the file "to give the store a new history", which a leader holding records is not given).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  HISTORY_FILE,
  newHistoryId,
  readHistoryFile,
  removeHistoryFile,
  writeHistoryFile,
} from '../../src/storage/history-format.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('history.json', () => {
  const root = tempDir(after);
  let n = 0;
  /** storeDir makes `<root>/<n>/<node>/<shard>`, as node-plan.ts lays a store directory out. */
  function storeDir(node: string, shard: string): string {
    const dir = join(root, String(++n), node, shard);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  it('names the shard and node directory of the store that wrote it, and reads back its id', () => {
    const dir = storeDir('127.0.0.1_7001', 'shard-0');
    const id = newHistoryId();
    writeHistoryFile(dir, id);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, HISTORY_FILE), 'utf8')), {
      version: 1,
      history: id,
      shard: 'shard-0',
      node: '127.0.0.1_7001',
    });
    assert.equal(readHistoryFile(dir), id);
    removeHistoryFile(dir);
    assert.equal(readHistoryFile(dir), undefined);
  });

  it('of another shard is refused with CORRUPTION naming both shards, not taken as this store’s id', () => {
    const other = storeDir('127.0.0.1_7002', 'shard-1');
    writeHistoryFile(other, newHistoryId());
    const dir = storeDir('127.0.0.1_7001', 'shard-0');
    writeFileSync(join(dir, HISTORY_FILE), readFileSync(join(other, HISTORY_FILE)));
    assert.throws(
      () => readHistoryFile(dir),
      (err: Error & { code?: string }) =>
        err.code === 'CORRUPTION' &&
        err.message.includes('"shard-1"') &&
        err.message.includes('"shard-0"') &&
        err.message.includes('"127.0.0.1_7002"'),
    );
  });

  it('copied from a replica store of the same shard (the advised repair) is taken: its node directory differs', () => {
    const replica = storeDir('127.0.0.1_7002', 'shard-0');
    const id = newHistoryId();
    writeHistoryFile(replica, id);
    const dir = storeDir('127.0.0.1_7001', 'shard-0');
    writeFileSync(join(dir, HISTORY_FILE), readFileSync(join(replica, HISTORY_FILE)));
    assert.equal(readHistoryFile(dir), id);
  });

  it('written before shard names is read as it was and rewritten naming its shard', () => {
    const dir = storeDir('127.0.0.1_7001', 'shard-3');
    const id = newHistoryId();
    writeFileSync(join(dir, HISTORY_FILE), `${JSON.stringify({ version: 1, history: id })}\n`);
    assert.equal(readHistoryFile(dir), id);
    const doc = JSON.parse(readFileSync(join(dir, HISTORY_FILE), 'utf8')) as { shard?: string };
    assert.equal(doc.shard, 'shard-3');
  });

  for (const [what, text] of [
    ['torn', '{"version":1,"history":"0123'],
    ['of another version', `{"version":2,"history":"${'a'.repeat(32)}"}`],
    ['with a shard that is no string', `{"version":1,"history":"${'a'.repeat(32)}","shard":7}`],
  ] as const)
    it(`that is ${what} is CORRUPTION advising a copy from a replica, and saying what removing it leaves`, () => {
      const dir = storeDir('127.0.0.1_7001', 'shard-0');
      writeFileSync(join(dir, HISTORY_FILE), text);
      assert.throws(
        () => readHistoryFile(dir),
        (err: Error & { code?: string }) =>
          err.code === 'CORRUPTION' &&
          err.message.includes('copy history.json from a replica store of shard-0') &&
          err.message.includes("replicas' pulls go unchecked") &&
          !err.message.includes('resync from it'),
      );
    });
});
