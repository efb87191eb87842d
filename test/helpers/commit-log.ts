/**
 * One store's log in a commit log on a FaultyVfs, for the log's own tests: open it as recovery
 * would (read the log, continue it), append through the store's StoreLog, and read it back.
 */
import { join } from 'node:path';
import type { Durability } from '../../src/config/schema.js';
import { CommitLog } from '../../src/storage/commit-log.js';
import { type LogRecovery, readCommitLog } from '../../src/storage/commit-log-reader.js';
import { StoreLog } from '../../src/storage/store-log.js';
import type { Vfs } from '../../src/storage/vfs.js';
import type { DecodedRecord } from '../../src/storage/wal-format.js';

/** LOG_DIR is where the tests' commit log lives on the FaultyVfs. */
export const LOG_DIR = '/data/log/w0';
/** STORE is the log id of the tests' store. */
export const STORE = 7;

/** segmentFiles lists the test log's segment paths (not its spare), oldest first. */
export function segmentFiles(vfs: Vfs): string[] {
  return vfs
    .list(LOG_DIR)
    .filter((n) => n.endsWith('.log'))
    .sort()
    .map((n) => join(LOG_DIR, n));
}

/** TestLog is a commit log with one store: append as that store, close both. */
export interface TestLog {
  commit: CommitLog;
  log: StoreLog;
  close: () => Promise<void>;
}

/** LogSettingsForTest override the defaults of openTestLog. */
export interface LogSettingsForTest {
  segmentBytes?: number;
  durability?: Durability;
  fsyncIntervalMs?: number;
  retentionBytes?: number;
  /** preallocate: spares in every durability mode unless false; 'default': the log's own (fsync only). */
  preallocate?: boolean | 'default';
}

/** openTestLog recovers the log in LOG_DIR (if any) and attaches store `id` after its last record. */
export async function openTestLog(vfs: Vfs, o: LogSettingsForTest = {}, id = STORE): Promise<TestLog> {
  const rec = await recoverLog(vfs);
  const commit = await CommitLog.open({
    vfs,
    dir: LOG_DIR,
    segmentBytes: o.segmentBytes ?? 1 << 20,
    retentionBytes: o.retentionBytes ?? 0,
    durability: o.durability ?? 'fsync',
    fsyncIntervalMs: o.fsyncIntervalMs ?? 100,
    ...(o.preallocate === 'default' ? {} : { preallocate: o.preallocate ?? true }),
    segments: rec.rec.segments,
  });
  const next = rec.rec.nextSeqs.get(id) ?? 1;
  const log = new StoreLog(commit, id, next, 1 << 20);
  await commit.attach(log, next);
  return {
    commit,
    log,
    close: async () => {
      await log.close();
      await commit.close();
    },
  };
}

/** Recovered is what recoverLog read: the recovery result and every record as [store, seq, type, key, value]. */
export interface Recovered {
  rec: LogRecovery;
  records: [number, number, number, string, string][];
}

/** recoverLog reads the log in LOG_DIR as recovery does. */
export async function recoverLog(vfs: Vfs, repair = false): Promise<Recovered> {
  const records: Recovered['records'] = [];
  const rec = await readCommitLog(vfs, LOG_DIR, {
    repair,
    onRecord: (store: number, r: DecodedRecord) =>
      records.push([store, r.seq, r.type, r.key.toString(), r.value.toString()]),
    onBase: () => undefined,
  });
  return { rec, records };
}
