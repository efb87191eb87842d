/**
 * A replica's own failures, told from its leader's: a follower (follower.ts) fails when its leader
 * does not answer, refuses, or breaks a stream, and also when this node cannot keep what the leader
 * sent: applying records to its commit log, loading a snapshot into LMDB, saving a fork to a
 * divergence file. Those are this node's disk's: full (ENOSPC, EDQUOT), failing (EIO) or read-only
 * (EROFS), and the commit log's and stores' own refusals of them (DISK_FULL, COMMIT_LOG_BROKEN, ...).
 * Every failure was "the leader is unreachable" in the log and lmdb-js's "Commit failed (see
 * commitError for details)" in /stats `lastError`, and an operator went to the leader's machine
 * while the replica's disk was full (test/robustness/replica-disk-full.test.ts). The follower
 * publishes the code of such a failure (positions.ts, SLOT_LOCAL_ERROR), and `/cluster` shows the
 * replica `disk-failed` with it (lag.ts), not `disconnected`.
 *
 * lmdb-js rejects each write of a commit that failed with an Error whose `commitError` is a promise
 * it rejects with the cause (lmdb/write.js, `rejectCommit`, then the writer's status through
 * `lmdbError`: an Error whose `code` is the errno as a number, e.g. 28 or 5): `localFailureOf`
 * waits for it (briefly: it settles in the same turn as the writes). LMDB reports a write that
 * did not fit as EIO (a short write), and the free space is read after the failure, when part of
 * that write (or of others since) may have been let go. So an EIO out of an lmdb-js commit
 * (`commitError`) is taken for a full disk when the file system has less free than one of a
 * replica's largest commits (NEARLY_FULL_BYTES) and less than a tenth of its size (NEARLY_FULL_SHARE):
 * a 1 MiB bound missed a full disk (test/robustness/replica-disk-full.test.ts read "I/O error ...
 * 1 MiB free"), and the commit's size alone took a real EIO on a small, empty volume for a full
 * one (test/robustness/replica-eio-not-full.test.ts). Any other EIO (a plain write of the commit
 * log or a file: the kernel says ENOSPC there) is a failing disk.
 */
import { statfsSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname } from 'node:path';
import { HARD_MAX_VALUE_BYTES } from '../config/schema.js';
import { DistkvError, type ErrorCode } from '../errors.js';
import { lmdbCause } from '../storage/lmdb-env.js';
import { SCAN_PAGE_BYTES } from '../storage/store.js';
import { LeaderAnswerError } from './http-answer.js';
import { LOCAL_ERROR_CODES } from './positions.js';

/**
 * NEARLY_FULL_BYTES: a file system with less than this free, whose writes fail with EIO, is full
 * (a write that did not fit). It is a replica's largest LMDB commit: a snapshot page
 * (SCAN_PAGE_BYTES) and the entry that overran it (up to HARD_MAX_VALUE_BYTES), twice over for
 * LMDB's copies of the pages it rewrites.
 */
export const NEARLY_FULL_BYTES = 2 * (SCAN_PAGE_BYTES + HARD_MAX_VALUE_BYTES);
/** NEARLY_FULL_SHARE: and with less than this share of its size free (a small volume is never "nearly full" by the bytes alone). */
export const NEARLY_FULL_SHARE = 0.1;

/** Space is a file system's free bytes (for this user) and its size. */
export interface Space {
  free: number;
  total: number;
}
/** CAUSE_DEPTH bounds the walk down an error's `cause` chain. */
const CAUSE_DEPTH = 4;

/** ERRNO_KINDS maps the file system's error codes that are this node's disk's to the catalogue's codes. */
const ERRNO_KINDS: Record<string, ErrorCode> = {
  ENOSPC: 'DISK_FULL',
  EDQUOT: 'DISK_FULL',
  EIO: 'DISK_IO_ERROR',
  EROFS: 'READ_ONLY_FS',
};

/** LOCAL_CODES are the catalogue's codes of a store that cannot write to its own disk (positions.ts numbers them for /cluster). */
/** CORRUPTION is not among them: a damaged answer of the leader's is no fault of this replica's disk. */
const LOCAL_CODES: ReadonlySet<string> = new Set<string>(LOCAL_ERROR_CODES.filter((c) => c !== 'CORRUPTION'));

/**
 * LocalDiskError is a follower's failure that is this replica's own disk's (see above); its message
 * says so, names the errno and the store directory, and what to do. Its `code` is the catalogue's.
 */
export class LocalDiskError extends DistkvError {
  /** errno is the file system's code (ENOSPC, EIO, ...), when the failure carried one. */
  readonly errno: string | undefined;

  constructor(code: ErrorCode, errno: string | undefined, message: string, cause: unknown) {
    super(code, message, { cause });
    this.name = 'LocalDiskError';
    this.errno = errno;
  }
}

/**
 * localFailureOf returns `err` said as this replica's own disk's failure (LocalDiskError), or
 * undefined when it is not one (the leader's answer, the network, anything else). `dir` is the
 * replica's store directory, named in the message and measured for its free space by `spaceOf`
 * (the file system's, spaceAt; a test gives its own).
 */
export async function localFailureOf(
  err: unknown,
  dir: string | undefined,
  spaceOf: (dir: string | undefined) => Space | undefined = spaceAt,
): Promise<LocalDiskError | undefined> {
  if (err instanceof LocalDiskError) return err;
  if (err instanceof LeaderAnswerError) return undefined;
  const chain = await causesOf(err);
  const errno = chain.map(errnoName).find((name) => name !== undefined && ERRNO_KINDS[name] !== undefined);
  const coded = chain.find((e) => e instanceof DistkvError && LOCAL_CODES.has(e.code)) as
    DistkvError | undefined;
  let code = errno === undefined ? coded?.code : ERRNO_KINDS[errno];
  if (code === undefined) return undefined;
  const space = spaceOf(dir);
  if (code === 'DISK_IO_ERROR' && space !== undefined && fromLmdbCommit(chain) && nearlyFull(space))
    code = 'DISK_FULL';
  return new LocalDiskError(code, errno, messageOf(code, errno, dir, space?.free, chain), err);
}

/** fromLmdbCommit: the failure is an lmdb-js commit's (it carries `commitError`), whose short write LMDB says as EIO. */
function fromLmdbCommit(chain: readonly unknown[]): boolean {
  return chain.some((e) => (e as { commitError?: unknown } | null)?.commitError instanceof Promise);
}

/** nearlyFull: less free than one of a replica's largest commits, and than a tenth of the file system (see above). */
function nearlyFull({ free, total }: Space): boolean {
  return free < NEARLY_FULL_BYTES && free < total * NEARLY_FULL_SHARE;
}

/**
 * causesOf lists `err` and its causes (`cause`, and an lmdb-js commit failure's `commitError`,
 * awaited), outermost first.
 */
async function causesOf(err: unknown): Promise<unknown[]> {
  const chain: unknown[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && chain.length < CAUSE_DEPTH;) {
    chain.push(e);
    const commitError = (e as { commitError?: unknown }).commitError;
    e = commitError instanceof Promise ? await lmdbCause(commitError) : (e as { cause?: unknown }).cause;
  }
  return chain;
}

/** errnoName is a failure's errno as its name: Node's `code` ('ENOSPC'), or lmdb-js's number (28). */
function errnoName(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return /^E[A-Z]+$/.test(code) ? code : undefined;
  if (typeof code !== 'number' || code === 0) return undefined;
  const n = Math.abs(code);
  return Object.entries(constants.errno).find(([, v]) => v === n)?.[0];
}

/** spaceAt is what the file system of `dir` (or of its parent, while it is being made again) has free for this user, and its size. */
function spaceAt(dir: string | undefined): Space | undefined {
  if (dir === undefined) return undefined;
  for (const d of [dir, dirname(dir)]) {
    try {
      const s = statfsSync(d);
      return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
    } catch {
      // not there (a store directory wiped for a rebuild): its parent's file system
    }
  }
  return undefined;
}

/** sizeText says `bytes` for a person. */
function sizeText(bytes: number): string {
  if (bytes < 1024) return `${String(bytes)} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

/** messageOf says a local failure (see LocalDiskError): what, where, and what to do; `chain` gives what failed. */
function messageOf(
  code: ErrorCode,
  errno: string | undefined,
  dir: string | undefined,
  free: number | undefined,
  chain: readonly unknown[],
): string {
  const where = [
    errno,
    dir === undefined ? undefined : `under ${dir}`,
    free === undefined ? undefined : `${sizeText(free)} free`,
  ].filter((s) => s !== undefined);
  const at = where.length === 0 ? '' : ` (${where.join(', ')})`;
  const texts = chain.map((e) => (e instanceof Error ? e.message : String(e)));
  const outer = texts[0] ?? '';
  const inner = texts[texts.length - 1] ?? '';
  const what = outer.includes(inner) ? outer : `${outer}: ${inner}`;
  switch (code) {
    case 'DISK_FULL':
      return errno === 'EIO'
        ? `this replica's disk is full${at}: LMDB reports a write that did not fit as an I/O error; free space on it (if it stays, check the kernel log, dmesg); replication resumes by itself (${what})`
        : `this replica's disk is full${at}: free space on it; replication resumes by itself (${what})`;
    case 'DISK_IO_ERROR':
      return `this replica's disk reported an I/O error${at}: the disk or its connection is failing, not the leader; check the kernel log (dmesg) and the disk (smartctl); replication retries by itself (${what})`;
    case 'READ_ONLY_FS':
      return `this replica's file system is read-only${at}: remount it read-write; replication resumes by itself (${what})`;
    default:
      return `this replica cannot write to its own disk${at}, not the leader's fault: ${what}`;
  }
}
