/**
 * The LMDB environment layout shared by LmdbStore and the LSM store's LmdbLevel: one file
 * `data.mdb` with a `data` database (binary keys and values) and a `meta` database (small numbers).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Database, open, type RootDatabase } from 'lmdb';
import { dirError } from './dir-errors.js';
import { checkLmdbFile } from './lmdb-file-check.js';

/** KvEnv is an opened environment with its two databases. */
export interface KvEnv {
  root: RootDatabase;
  data: Database<Buffer, Uint8Array>;
  meta: Database<number, string>;
}

/**
 * openKvEnv opens (creating) `<dir>/data.mdb`; `noSync` and `overlappingSync` are lmdb-js's options.
 * A data file cut short or with a damaged meta page is refused first (lmdb-file-check.ts):
 * mapping it could crash the process.
 */
export function openKvEnv(dir: string, sync: { noSync: boolean; overlappingSync: boolean }): KvEnv {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw dirError(dir, err, 'create') ?? err;
  }
  checkLmdbFile(join(dir, 'data.mdb'), sync.overlappingSync);
  const root = open({ path: join(dir, 'data.mdb'), noSubdir: true, maxDbs: 4, ...sync });
  return {
    root,
    data: root.openDB<Buffer, Uint8Array>({ name: 'data', keyEncoding: 'binary', encoding: 'binary' }),
    meta: root.openDB<number, string>({ name: 'meta', encoding: 'ordered-binary' }),
  };
}

/**
 * bufferView is a Buffer over exactly the bytes of a value lmdb-js read. getBinaryFast answers with
 * its shared read Buffer (an overridden `length`) up to a size and with a plain Uint8Array above it
 * (values of 16 MiB and more), and range reads with either: the value decoders need a Buffer, and a
 * `subarray` of a Uint8Array is none (reads of such a value failed, "readUInt32LE is not a
 * function"). A view, not a copy: valid as long as what lmdb-js returned.
 */
export function bufferView(v: Uint8Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.length);
}

/** dbStats returns a database's entry count and the bytes of its pages. */
export function dbStats(db: Database<Buffer, Uint8Array>): { keys: number; bytes: number } {
  const s = db.getStats() as {
    entryCount?: number;
    treeLeafPageCount?: number;
    treeBranchPageCount?: number;
    overflowPages?: number;
    pageSize?: number;
  };
  const pages = (s.treeLeafPageCount ?? 0) + (s.treeBranchPageCount ?? 0) + (s.overflowPages ?? 0);
  return { keys: s.entryCount ?? 0, bytes: pages * (s.pageSize ?? 4096) };
}

/**
 * When a commit fails (a full disk), lmdb-js rejects the promise of every write in it, with an error
 * whose `commitError` is one more promise it rejects with the cause, and one of those write
 * promises is its own (the start of an event-turn batch), held by nobody. Every write distkv issues
 * awaits its own promise and reports the failure; these two carry no news, but unhandled they would
 * end the worker thread. `quietCommitFailure` marks the cause handled and tells whether `reason`
 * is such a commit failure.
 */
export function quietCommitFailure(reason: unknown): boolean {
  if (!(reason instanceof Error) || !reason.message.startsWith('Commit failed')) return false;
  const cause = (reason as Error & { commitError?: unknown }).commitError;
  if (cause instanceof Promise) cause.catch(() => undefined);
  return true;
}
