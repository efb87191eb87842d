/**
 * The LMDB environment layout shared by LmdbStore and the LSM store's LmdbLevel: one file
 * `data.mdb` with a `data` database (binary keys and values) and a `meta` database (small numbers).
 */
import { mkdirSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { type Database, open, type RootDatabase } from 'lmdb';
import { dirError } from './dir-errors.js';
import { checkLmdbFile } from './lmdb-file-check.js';
import { checkRoomToOpen } from './lmdb-open-guard.js';

/** KvEnv is an opened environment with its two databases. */
export interface KvEnv {
  root: RootDatabase;
  data: Database<Buffer, Uint8Array>;
  meta: Database<number, string>;
}

/**
 * openKvEnv opens (creating) `<dir>/data.mdb`; `noSync` and `overlappingSync` are lmdb-js's options.
 * A data file cut short or with a damaged meta page is refused first (lmdb-file-check.ts):
 * mapping it could crash the process; so is an open the process has too few free file descriptors
 * for (lmdb-open-guard.ts): LMDB's failed open crashes it.
 */
export function openKvEnv(dir: string, sync: { noSync: boolean; overlappingSync: boolean }): KvEnv {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw dirError(dir, err, 'create') ?? err;
  }
  checkLmdbFile(join(dir, 'data.mdb'), sync.overlappingSync);
  checkRoomToOpen(join(dir, 'data.mdb'));
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

/**
 * dbStats returns a database's entry count and the bytes of its data file `file` on disk (the bytes
 * of its pages in use when the file cannot be read). The file, not the pages: it holds the most the
 * store ever held, and the pages freed since wait in it for reuse (LMDB never shrinks it), so the
 * pages in use said 0 bytes for a store whose file, every key deleted, still took 7.4 MB, and hid a
 * file that grew without bound (merge-iterator.ts).
 */
export function dbStats(db: Database<Buffer, Uint8Array>, file: string): { keys: number; bytes: number } {
  const s = db.getStats() as {
    entryCount?: number;
    treeLeafPageCount?: number;
    treeBranchPageCount?: number;
    overflowPages?: number;
    pageSize?: number;
  };
  const pages = (s.treeLeafPageCount ?? 0) + (s.treeBranchPageCount ?? 0) + (s.overflowPages ?? 0);
  let bytes: number;
  try {
    bytes = statSync(file).size;
  } catch {
    bytes = pages * (s.pageSize ?? 4096);
  }
  return { keys: s.entryCount ?? 0, bytes };
}

/** LMDB_COMMIT_FAILED is the message of the error lmdb-js rejects a failed commit's writes with (lmdb/write.js). */
const LMDB_COMMIT_FAILED = 'Commit failed (see commitError for details)';

/**
 * When a commit fails (a full disk), lmdb-js (lmdb/write.js, `rejectCommit`) rejects the promise of
 * every write in it, each with a new `Error(LMDB_COMMIT_FAILED)` whose own `commitError` is one more
 * promise, shared by the commit's writes, carrying its own `reject` and rejected with the cause (an
 * Error whose `code` is the errno). One of those write promises is its own (the start of an
 * event-turn batch), held by nobody. Every write distkv issues awaits its own promise and reports
 * the failure; these two carry no news, but unhandled they would end the worker thread.
 * `quietCommitFailure` marks the cause handled and tells whether `reason` is such a commit failure:
 * exactly that shape (message and `commitError`), so an error of distkv's own whose message merely
 * says "Commit failed" still ends the thread, as any other unhandled rejection does.
 */
export function quietCommitFailure(reason: unknown): boolean {
  if (!isLmdbCommitFailure(reason)) return false;
  reason.commitError.catch(() => undefined);
  return true;
}

/** isLmdbCommitFailure tells whether `reason` is shaped as lmdb-js's failed-commit error (above). */
function isLmdbCommitFailure(reason: unknown): reason is Error & { commitError: Promise<unknown> } {
  if (!(reason instanceof Error) || reason.message !== LMDB_COMMIT_FAILED) return false;
  if (!Object.hasOwn(reason, 'commitError')) return false;
  const cause = (reason as Error & { commitError?: unknown }).commitError;
  return cause instanceof Promise && typeof (cause as { reject?: unknown }).reject === 'function';
}

/** LMDB_CAUSE_WAIT_MS bounds the wait for an lmdb-js commit failure's cause (`commitError`). */
const LMDB_CAUSE_WAIT_MS = 1000;

/**
 * lmdbCause waits (at most LMDB_CAUSE_WAIT_MS) for what an lmdb-js `commitError` rejects with: an
 * Error whose `code` is the errno as a number (5: "Input/output error"). It settles in the same
 * turn as the commit's writes (lmdb/write.js); undefined when it did not in time.
 */
export async function lmdbCause(commitError: Promise<unknown>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => {
      resolve(undefined);
    }, LMDB_CAUSE_WAIT_MS);
  });
  try {
    return await Promise.race([
      commitError.then(
        () => undefined,
        (cause: unknown) => cause,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * commitFailureText says a failed LMDB commit, or any other error, in one line without its stack:
 * an lmdb-js commit failure by its cause ("Input/output error (EIO, errno 5)"), awaited.
 */
export async function commitFailureText(err: unknown): Promise<string> {
  const commitError = (err as { commitError?: unknown } | null)?.commitError;
  const cause = commitError instanceof Promise ? ((await lmdbCause(commitError)) ?? err) : err;
  const message = cause instanceof Error ? cause.message : String(cause);
  const code = (cause as { code?: unknown } | null)?.code;
  if (typeof code !== 'number' || code <= 0) return message;
  const name = Object.entries(constants.errno).find(([, v]) => v === code)?.[0];
  return `${message} (${name === undefined ? '' : `${name}, `}errno ${code})`;
}
