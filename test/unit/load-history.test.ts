/**
 * `distkv load` names the history of what it loads (docs/bulk-load.md, "History id"): a loaded
 * leader held records and no history id, which serve never names (only a leader holding nothing
 * begins a history), so its replicas were never checked and followed a leader that had lost its
 * directory as if nothing had happened (test/e2e/history-operator-steps.test.ts). A shard whose
 * leader store is loaded gets a new id, its replica stores loaded in the same run the same one; a
 * replica loaded alone gets none (it takes its leader's at its first pull), and drops one it had.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { load } from '../../src/cli/load.js';
import { checkDataFormat } from '../../src/server/data-format.js';
import { BulkLoader } from '../../src/storage/bulk-load.js';
import { LOADING_MARKER } from '../../src/storage/bulk-load-marker.js';
import {
  HISTORY_FILE,
  newHistoryId,
  readHistoryFile,
  writeHistoryFile,
} from '../../src/storage/history-format.js';
import { RealVfs } from '../../src/storage/real-vfs.js';
import { freePort } from '../helpers/ports.js';
import { tempDir } from '../helpers/temp-dir.js';

/** setup writes a one-shard config (leader L, replica R) and an input file; returns the paths. */
async function setup(): Promise<{ config: string; data: string; input: string; L: string; R: string }> {
  const dir = tempDir(after);
  const L = `127.0.0.1:${String(await freePort())}`;
  const R = `127.0.0.1:${String(await freePort())}`;
  const config = join(dir, 'c.toml');
  writeFileSync(config, `[[shards]]\nname = "s0"\nidx = 0\naddress = "${L}"\nreplicas = ["${R}"]\n`);
  const input = join(dir, 'in.jsonl');
  writeFileSync(input, '{"key":"a","value":"1"}\n{"key":"b","value":"2"}\n');
  return { config, data: join(dir, 'data'), input, L, R };
}

/** storeOf is the store directory of shard s0 on `node` under `data`. */
const storeOf = (data: string, node: string): string => join(data, node.replace(':', '_'), 's0');

/** servedEmpty makes `store` under `data` as a serve that held nothing leaves it: marked, empty. */
function servedEmpty(data: string, store: string): void {
  mkdirSync(data, { recursive: true });
  checkDataFormat(data, [store]);
  mkdirSync(store, { recursive: true });
}

describe('distkv load and history ids', () => {
  it('names a loaded leader’s history, and gives its replica loaded in the same run the same id', async () => {
    const { config, data, input, L, R } = await setup();
    assert.equal(await load([input, '--config', config, '--data-dir', data]), 0);
    const id = readHistoryFile(storeOf(data, L));
    assert.match(String(id), /^[0-9a-f]{32}$/, 'the loaded leader was named no history');
    assert.equal(readHistoryFile(storeOf(data, R)), id, 'the replica loaded with it holds the same history');
  });

  it('names a leader loaded alone a new history, one it had while served empty being another', async () => {
    const { config, data, input, L } = await setup();
    const before = newHistoryId();
    servedEmpty(data, storeOf(data, L));
    writeHistoryFile(storeOf(data, L), before);
    assert.equal(await load([input, '--config', config, '--data-dir', data, '--node', L]), 0);
    const id = readHistoryFile(storeOf(data, L));
    assert.match(String(id), /^[0-9a-f]{32}$/);
    assert.notEqual(id, before);
  });

  it('gives a replica loaded without its leader no id (it takes its leader’s at its first pull), dropping one it had', async () => {
    const { config, data, input, R } = await setup();
    servedEmpty(data, storeOf(data, R));
    writeHistoryFile(storeOf(data, R), newHistoryId());
    assert.equal(await load([input, '--config', config, '--data-dir', data, '--node', R]), 0);
    assert.equal(existsSync(join(storeOf(data, R), HISTORY_FILE)), false);
  });

  it('run again over an unfinished load removes the history.json that load wrote before naming its own', async () => {
    const { data, L } = await setup();
    const dir = storeOf(data, L);
    const first = await BulkLoader.open(dir, new RealVfs());
    await first.add([{ key: Buffer.from('a'), value: Buffer.from('1') }]);
    const earlier = newHistoryId();
    await first.finish(earlier);
    // Killed after the id was written, before the marker went.
    writeFileSync(join(dir, LOADING_MARKER), 'bulk load in progress\n');
    const again = await BulkLoader.open(dir, new RealVfs());
    assert.equal(existsSync(join(dir, HISTORY_FILE)), false, 'the earlier load’s id outlived its start over');
    await again.add([{ key: Buffer.from('b'), value: Buffer.from('2') }]);
    await again.finish(undefined);
    assert.equal(readHistoryFile(dir), undefined);
  });
});
