/**
 * Reading back the epochs a store's records carry in a commit log (docs/commit-log-format.md):
 * the epoch of each live record's frame, by seq (records voided by a later base frame dropped).
 * Also where a TestCluster node's store of shard-0 and its commit log are (e2e tests).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readCommitLog } from '../../src/storage/commit-log-reader.js';
import { storeIdOf } from '../../src/storage/commit-log-format.js';
import { homeDir, readHome, storeNameOf } from '../../src/storage/commit-log-home.js';
import { RealVfs } from '../../src/storage/real-vfs.js';

/** storeDirOf is the directory of TestCluster `node`'s store of shard-0 under `dir` (the layout of src/server/node-plan.ts). */
export function storeDirOf(dir: string, node: string): string {
  return join(dir, node.replace(/[:.]/g, '_'), node.replaceAll(':', '_'), 'shard-0');
}

/** logDirOf is the commit log directory the store in `storeDir` names. */
export function logDirOf(storeDir: string): string {
  const home = readHome(new RealVfs(), storeDir);
  assert.ok(home !== undefined, `${storeDir} names its commit log`);
  return homeDir(storeDir, home);
}

/** logEpochs returns, for the store in `storeDir`, the epoch of each of its records in the log in `logDir`. */
export async function logEpochs(logDir: string, storeDir: string): Promise<Map<number, number>> {
  const id = storeIdOf(storeNameOf(storeDir));
  const epochs = new Map<number, number>();
  await readCommitLog(new RealVfs(), logDir, {
    repair: false,
    readOnly: true,
    onRecord: (store, r) => {
      if (store === id) epochs.set(r.seq, r.epoch);
    },
    onBase: (store, nextSeq) => {
      if (store !== id) return;
      for (const seq of [...epochs.keys()]) if (seq >= nextSeq) epochs.delete(seq);
    },
  });
  return epochs;
}
