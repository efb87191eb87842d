/**
 * The data directory lock: one process owns a data directory for its whole life (as LevelDB's
 * LOCK), so two `distkv serve` can never replay and append to the same WAL.
 *
 * On disk: `<data_dir>/LOCK`, one line of JSON naming the owner:
 * `{"pid":…,"start":…,"boot":…,"ns":…}`, where `start` is the process's start time (field 22 of
 * /proc/<pid>/stat), `boot` the kernel's boot id and `ns` its PID namespace, so a pid reused by
 * another process is not mistaken for a live owner. (Without /proc all three are empty and only
 * the pid is checked.)
 *
 * An owner whose pid means nothing here (another PID namespace: a container sharing the volume;
 * another kernel: a host sharing a network file system, or a lock from before a reboot) cannot be
 * checked by pid: its pid may name an unrelated process here, or none. So the owner refreshes the
 * mtime of `LOCK` every HEARTBEAT_MS while it holds it, and such a lock is live while that mtime
 * moves: one not refreshed for FOREIGN_STALE_MS is stale (a taker waits at most that long to see).
 * A holder whose event loop stalls longer than that could lose its lock to such a taker.
 *
 * Taking it:
 * 1. The identity is written to a private temp file, which is hard-linked to `LOCK`: link() creates
 *    the name atomically and fails if it exists, and `LOCK` is never seen half-written.
 * 2. If `LOCK` exists and its owner is alive, startup fails with DataDirLockedError naming the
 *    directory and the owner's pid.
 * 3. If its owner is dead (kill -9 leaves the file behind), the lock is taken over: the taker first
 *    creates `LOCK.takeover.<pid>.<start>` for that dead owner (again by link, so exactly one
 *    process wins a given stale lock) and then renames its identity over `LOCK` (atomic: `LOCK` is
 *    never missing). A process that loses the takeover race reads `LOCK` again and finds the
 *    winner alive. Takeover markers are removed by their owner on release; markers left by a
 *    killed owner are removed by a later taker once they are a minute old.
 *
 * Invariant: while a DataDirLock is held, `LOCK` holds its identity.
 */
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, DataDirLockedError } from '../errors.js';

/** LOCK_FILE is the name of the lock file in a data directory. */
export const LOCK_FILE = 'LOCK';
const TAKEOVER_PREFIX = `${LOCK_FILE}.takeover.`;
/** STALE_MARKER_MS: a takeover marker this old belongs to no takeover in progress. */
const STALE_MARKER_MS = 60_000;
const ATTEMPTS = 50;
/** HEARTBEAT_MS is how often a holder refreshes the mtime of its LOCK. */
export const HEARTBEAT_MS = 1000;
/** FOREIGN_STALE_MS: a lock of another PID namespace or kernel whose mtime is this old is stale. */
export const FOREIGN_STALE_MS = 8000;

/** LockOwner identifies the process holding a lock. */
export interface LockOwner {
  pid: number;
  /** start is the process's start time in clock ticks since boot ('' where /proc is missing). */
  start: string;
  /** boot is the kernel boot id ('' where /proc is missing). */
  boot: string;
  /** ns is the PID namespace ('' where /proc is missing, and in locks written before it was kept). */
  ns: string;
}

/**
 * makeDataDir creates `dir` (and its parents) if missing; a path that is a file, or lies under one,
 * is a ConfigError naming that file instead of mkdir's bare EEXIST or ENOTDIR.
 */
function makeDataDir(dir: string): void {
  try {
    makeDirs(dir);
    if (!isFile(dir)) return;
  } catch (err) {
    const code = errnoOf(err);
    if (code !== 'EEXIST' && code !== 'ENOTDIR') throw dataDirUnwritable(dir, err);
  }
  // `dir` is a file, or lies under one.
  let file = dir;
  while (dirname(file) !== file && !isFile(file)) file = dirname(file);
  throw new ConfigError('--data-dir (server.data_dir)', [
    `the data directory ${dir}${file === dir ? '' : ` lies under ${file}, which`} is a file, not a directory: ` +
      'give --data-dir a directory (it is created if missing), or move the file away',
  ]);
}

/**
 * makeDirs creates the missing components of `dir` one at a time, so a failure is the real error
 * of the component that failed. Not Node's recursive mkdir: it reports ENOENT for every failure
 * below the first missing component (EROFS included), and loops for ever on a file system that
 * answers ENOENT for a directory whose parent exists (a path under /proc).
 */
function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) {
    missing.push(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (err) {
      // Made meanwhile by another process: as good.
      if (errnoOf(err) !== 'EEXIST' || isFile(d)) throw err;
    }
  }
}

/** UNWRITABLE names the errors that mean a data directory cannot be written at all. */
const UNWRITABLE: Record<string, string> = {
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOSPC: 'no space left on the device',
  ENOENT: 'the file system does not let a directory be made there',
};

/**
 * dataDirUnwritable turns an error that means data directory `dir` cannot be written (read-only
 * file system, no permission, no space) into a ConfigError naming it, the reason and the fix; any
 * other error is returned as it is. `file` names the file of it that could not be written, when it
 * is not the directory itself (the RUNNING marker, src/server/run-marker.ts: with one block free,
 * the LOCK took it and the marker's write failed with a bare ENOSPC naming nothing).
 */
export function dataDirUnwritable(dir: string, err: unknown, file?: string): unknown {
  const code = errnoOf(err);
  const reason = code === undefined ? undefined : UNWRITABLE[code];
  if (reason === undefined) return err;
  const writing = file === undefined ? '' : ` (writing ${file})`;
  return new ConfigError('--data-dir (server.data_dir)', [
    `the data directory ${dir} cannot be written${writing}: ${reason} (${code}): ` +
      (code === 'ENOSPC'
        ? 'free space on its disk, or give --data-dir a directory on another'
        : 'give --data-dir a directory distkv may write'),
  ]);
}

/** isFile tells whether `path` exists and is not a directory. */
function isFile(path: string): boolean {
  try {
    return !statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * processStat reads a process's state (field 3 of /proc/<pid>/stat: R, S, D, Z...) and start
 * time: both '' without /proc, undefined if the process does not exist.
 */
function processStat(pid: number): { state: string; start: string } | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === undefined)
    return readText('/proc/self/stat') === undefined ? { state: '', start: '' } : undefined;
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', start: fields[19] ?? '' };
}

/**
 * EXITED_STATES are the /proc states of a process that has exited but whose parent has not yet
 * collected it (Z, a zombie; X, being removed). Such a process has closed every file and will
 * write nothing more: its lock is as stale as a dead one's. kill(pid, 0) still succeeds on it, and
 * a distkv killed with SIGKILL is a zombie until its parent waits for it: a moment under a shell
 * or a supervisor, for ever under a parent that never waits (a container's shell running it in
 * the background without an init). `distkv serve` started after `kill -9` was refused with
 * DATA_DIR_LOCKED naming that pid, "in use by another distkv process", all that time.
 */
const EXITED_STATES = new Set(['Z', 'X', 'x']);

function bootId(): string {
  return readText('/proc/sys/kernel/random/boot_id')?.trim() ?? '';
}

function pidNamespace(): string {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return '';
  }
}

/** selfIdentity returns this process's LockOwner. */
export function selfIdentity(): LockOwner {
  return {
    pid: process.pid,
    start: processStat(process.pid)?.start ?? '',
    boot: bootId(),
    ns: pidNamespace(),
  };
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (typeof o.pid !== 'number' || typeof o.start !== 'string' || typeof o.boot !== 'string')
      return undefined;
    return { pid: o.pid, start: o.start, boot: o.boot, ns: typeof o.ns === 'string' ? o.ns : '' };
  } catch {
    return undefined;
  }
}

/** foreign tells whether `owner`'s pid means nothing here: another kernel, or another PID namespace. */
function foreign(owner: LockOwner): boolean {
  return owner.boot !== bootId() || (owner.ns !== '' && owner.ns !== pidNamespace());
}

function mtimeOf(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * heartbeatMoves watches the mtime of a foreign owner's LOCK (see the module comment): true once
 * it moves, false when it is FOREIGN_STALE_MS old (or LOCK is gone).
 */
function heartbeatMoves(lockPath: string): boolean {
  const first = mtimeOf(lockPath);
  if (first === undefined) return false;
  while (Date.now() - first <= FOREIGN_STALE_MS) {
    sleepSync(HEARTBEAT_MS / 4);
    const now = mtimeOf(lockPath);
    if (now !== first) return now !== undefined;
  }
  return false;
}

/** holds tells whether `owner` still holds the lock at `lockPath`: by its pid here, else by its heartbeat. */
function holds(owner: LockOwner, lockPath: string): boolean {
  return foreign(owner) ? heartbeatMoves(lockPath) : isAlive(owner);
}

/** isAlive reports whether the process `owner` names is still running (the same process, not a reuse of its pid). */
export function isAlive(owner: LockOwner): boolean {
  if (foreign(owner)) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if (errnoOf(err) !== 'EPERM') return false; // ESRCH: no such process
  }
  const stat = processStat(owner.pid);
  if (stat === undefined || EXITED_STATES.has(stat.state)) return false;
  return owner.start === '' || stat.start === '' || stat.start === owner.start;
}

/**
 * heldByLiveProcess tells whether a live process of this machine holds the lock of `dir`, without
 * taking it (a foreign owner, checked only by its heartbeat, is not waited for: false; nor is a
 * lock that cannot be read).
 */
export function heldByLiveProcess(dir: string): boolean {
  let text: string | undefined;
  try {
    text = readText(join(dir, LOCK_FILE));
  } catch {
    return false; // unreadable (a file where the directory should be...): acquire names it
  }
  const owner = text === undefined ? undefined : parseOwner(text);
  return owner !== undefined && isAlive(owner);
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** DataDirLock is a held lock on one data directory; `release()` gives it up. */
export class DataDirLock {
  readonly dir: string;
  readonly owner: LockOwner;
  /** previousOwner is the dead process whose lock was taken over (undefined when there was none). */
  readonly previousOwner: LockOwner | undefined;
  private readonly marker: string | undefined;
  private released = false;
  /** heartbeat refreshes the mtime of LOCK while it is held (see the module comment). */
  private readonly heartbeat: NodeJS.Timeout;

  private constructor(
    dir: string,
    owner: LockOwner,
    taken?: { from: LockOwner | undefined; marker: string },
  ) {
    this.dir = dir;
    this.owner = owner;
    this.previousOwner = taken?.from;
    this.marker = taken?.marker;
    const lockPath = join(dir, LOCK_FILE);
    this.heartbeat = setInterval(() => {
      try {
        const now = new Date();
        utimesSync(lockPath, now, now);
      } catch {
        // released, or the disk turned read-only: nothing to refresh
      }
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /**
   * acquire takes the lock of `dir` (created if missing) for this process, taking over a lock
   * left by a dead process; it throws DataDirLockedError when a live process holds it.
   */
  static acquire(dir: string, owner: LockOwner = selfIdentity()): DataDirLock {
    makeDataDir(dir);
    const lockPath = join(dir, LOCK_FILE);
    const text = `${JSON.stringify(owner)}\n`;
    const tmp = join(dir, `${LOCK_FILE}.${owner.pid}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      writeFileSync(tmp, text);
    } catch (err) {
      try {
        unlinkSync(tmp); // created, and not written (a full disk)
      } catch {
        // never created
      }
      throw dataDirUnwritable(dir, err);
    }
    try {
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        try {
          linkSync(tmp, lockPath);
          return new DataDirLock(dir, owner);
        } catch (err) {
          if (errnoOf(err) !== 'EEXIST') throw err;
        }
        const current = readText(lockPath);
        if (current === undefined) continue; // released meanwhile: try again
        const holder = parseOwner(current);
        if (holder !== undefined && holds(holder, lockPath)) throw new DataDirLockedError(dir, holder.pid);
        // Stale (or unreadable, which no distkv writes): take it over, once per stale owner.
        const marker = join(dir, `${TAKEOVER_PREFIX}${holder?.pid ?? 'unknown'}.${holder?.start ?? ''}`);
        try {
          linkSync(tmp, marker);
        } catch (err) {
          if (errnoOf(err) !== 'EEXIST') throw err;
          DataDirLock.clearDeadMarker(marker);
          sleepSync(5 + attempt * 5); // another process is taking this stale lock over
          continue;
        }
        if (readText(lockPath) !== current) {
          unlinkSync(marker); // it changed under us: look again
          continue;
        }
        renameSync(tmp, lockPath);
        DataDirLock.clearOldMarkers(dir, marker);
        return new DataDirLock(dir, owner, { from: holder, marker });
      }
      throw new DataDirLockedError(dir, undefined);
    } finally {
      try {
        unlinkSync(tmp);
      } catch {
        // renamed into LOCK: nothing to remove
      }
    }
  }

  /**
   * clearDeadMarker removes a takeover marker whose taker died before finishing the takeover (a
   * dead taker never renames, so removing its marker is safe; a live taker's marker stays).
   */
  private static clearDeadMarker(marker: string): void {
    const text = readText(marker);
    const taker = text === undefined ? undefined : parseOwner(text);
    // A foreign taker's marker is left to the age rule (clearOldMarkers): its pid tells nothing here.
    if (taker === undefined || foreign(taker) || isAlive(taker)) return;
    try {
      unlinkSync(marker);
    } catch {
      // another process removed it first
    }
  }

  /** clearOldMarkers removes markers other than `keep` left by killed owners (a minute old or more). */
  private static clearOldMarkers(dir: string, keep: string): void {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (!name.startsWith(TAKEOVER_PREFIX) || path === keep) continue;
      try {
        if (Date.now() - statSync(path).mtimeMs > STALE_MARKER_MS) unlinkSync(path);
      } catch {
        // removed by someone else
      }
    }
  }

  /** release removes the lock (if it is still ours); calling it again does nothing. */
  release(): void {
    if (this.released) return;
    this.released = true;
    clearInterval(this.heartbeat);
    const lockPath = join(this.dir, LOCK_FILE);
    const current = readText(lockPath);
    if (current !== undefined && parseOwner(current)?.pid === this.owner.pid) unlinkSync(lockPath);
    if (this.marker !== undefined) {
      try {
        unlinkSync(this.marker);
      } catch {
        // already gone
      }
    }
  }
}
