/**
 * Reading back the epochs a store's records carry in a commit log (docs/commit-log-format.md):
 * the epoch of each live record's frame, by seq (records voided by a later base frame dropped).
 */
import { readCommitLog } from '../../src/storage/commit-log-reader.js';
import { storeIdOf } from '../../src/storage/commit-log-format.js';
import { storeNameOf } from '../../src/storage/commit-log-home.js';
import { RealVfs } from '../../src/storage/real-vfs.js';

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
