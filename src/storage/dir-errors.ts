/**
 * What a failed directory operation under a data directory means, said as an error a person can act
 * on (DATA_DIR_UNUSABLE): the path at fault, what is wrong with it, what to do. mkdir's bare EEXIST
 * for a file where `runs/` belongs, ENOTDIR for a file where a store directory belongs, or EACCES
 * for a directory distkv may not enter name neither the culprit nor the remedy.
 *
 * `dirError` returns undefined for errors it does not explain; callers then throw the original.
 *
 * `flushFailing` is the refusal of writes while a store's memtable flushes keep failing, by what
 * the file system said: out of file descriptors (TOO_MANY_OPEN_FILES), a read-only file system
 * (READ_ONLY_FS), a permission denied (STORE_DIR_DENIED, naming the directory and uid), a
 * device error (DISK_IO_ERROR); only a full disk or quota (ENOSPC, EDQUOT) and what is not
 * classified are DISK_FULL, whose advice is to free space.
 */
import { constants, accessSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DistkvError } from '../errors.js';

/** errnoOf is the errno code of a Node fs error, if it has one. */
export function errnoOf(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** userOf names the user this process runs as, for the advice. */
function userOf(): string {
  const uid = process.getuid?.();
  return uid === undefined ? 'the user distkv runs as' : `the user distkv runs as (uid ${String(uid)})`;
}

/** capitalized is `text` with its first letter upper case (a sentence that starts with it). */
function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** fileAlong returns the first component of `path` (from the root down) that exists and is not a directory. */
function fileAlong(path: string): string | undefined {
  const parts: string[] = [];
  for (let d = resolve(path); ; d = dirname(d)) {
    parts.push(d);
    if (dirname(d) === d) break;
  }
  for (const p of parts.reverse()) {
    const st = statSync(p, { throwIfNoEntry: false });
    if (st === undefined) return undefined;
    if (!st.isDirectory()) return p;
  }
  return undefined;
}

/**
 * deniedAlong returns the directory at fault for a permission denied on `path`: the first one along
 * it (from the root down) this process may not enter, else `path` itself.
 */
function deniedAlong(path: string): string {
  const parts: string[] = [];
  for (let d = resolve(path); ; d = dirname(d)) {
    parts.push(d);
    if (dirname(d) === d) break;
  }
  for (const p of parts.reverse()) {
    if (!allows(p, constants.F_OK)) break;
    if (!allows(p, constants.X_OK)) return p;
  }
  return path;
}

/** allows tells whether this process has `mode` access to `p`. */
function allows(p: string, mode: number): boolean {
  try {
    accessSync(p, mode);
    return true;
  } catch {
    return false;
  }
}

/** notADirectory is the error for `file`, a file where distkv keeps the directory `wanted`. */
export function notADirectory(file: string, wanted: string): DistkvError {
  return new DistkvError(
    'DATA_DIR_UNUSABLE',
    `${file} is a file, not a directory${file === wanted ? '' : ` (on the way to ${wanted})`}: distkv keeps a ` +
      'directory there and never writes a file by that name; move the file out of the way (look at what ' +
      'put it there: a copy or restore by hand?) and start the node again',
  );
}

/** permissionDenied is the error for `dir`, a directory distkv may not read, write or enter. */
export function permissionDenied(dir: string, code: string, doing: string): DistkvError {
  return new DistkvError(
    'DATA_DIR_UNUSABLE',
    `cannot ${doing} ${dir}: permission denied (${code}): ${userOf()} needs to read, write and enter ` +
      `the data directory and everything in it: chown -R it to that user (or chmod -R u+rwX ${dir}), ` +
      'or start with another --data-dir',
  );
}

/**
 * dirError explains `err`, thrown while making or reading the directory `dir`: a file where it (or
 * a directory on its way) belongs, or a permission denied. Undefined for any other error.
 */
export function dirError(dir: string, err: unknown, doing = 'use'): DistkvError | undefined {
  if (err instanceof DistkvError) return err;
  const code = errnoOf(err);
  // Node's recursive mkdir reports ENOENT for a file on the way, too.
  if (code === 'EEXIST' || code === 'ENOTDIR' || code === 'ENOENT') {
    const file = fileAlong(dir);
    return file === undefined ? undefined : notADirectory(file, dir);
  }
  if (code === 'EACCES' || code === 'EPERM') return permissionDenied(deniedAlong(dir), code, doing);
  return undefined;
}

/** flushFailing is the refusal of writes while the memtable flushes of the store in `dir` keep failing with `failure`. */
export function flushFailing(dir: string, failure: Error): DistkvError {
  if (failure instanceof DistkvError && failure.code === 'DATA_DIR_UNUSABLE')
    return new DistkvError(failure.code, `memtable flush is failing: ${failure.message}`);
  const code = errnoOf(failure);
  const failing = `memtable flush of the store ${dir} is failing`;
  const until = 'writes are refused until a flush succeeds (flushes are retried; reads keep working)';
  switch (code) {
    case 'EMFILE':
    case 'ENFILE':
      return new DistkvError(
        'TOO_MANY_OPEN_FILES',
        `${failing}: the ${code === 'EMFILE' ? 'process' : 'system'} has too many open files ` +
          `(${failure.message}); ${until}: raise the open-file limit (LimitNOFILE in the systemd unit, ` +
          'ulimit -n, or fs.file-max for ENFILE) and restart the node',
      );
    case 'EROFS':
      return new DistkvError(
        'READ_ONLY_FS',
        `${failing}: its file system is read-only (${failure.message}); ${until}: the disk is not full. ` +
          'A file system the kernel remounted read-only after errors says so in its log (dmesg): check ' +
          'the disk, repair the file system and remount it read-write (mount -o remount,rw), or fail the ' +
          "node's leaders over to replicas (distkv failover) and move its data directory",
      );
    case 'EACCES':
    case 'EPERM':
      return new DistkvError(
        'STORE_DIR_DENIED',
        `${failing}: permission denied (${failure.message.startsWith(`${code}:`) ? failure.message : `${code}: ${failure.message}`}); ${until}: the disk is not full. ` +
          `${capitalized(userOf())} needs to read, write and enter ${dir} and everything in it: chown -R it to that ` +
          `user (or chmod -R u+rwX ${dir})${code === 'EPERM' ? ', and clear an immutable attribute (lsattr, chattr -i)' : ''}`,
      );
    case 'EIO':
      return new DistkvError(
        'DISK_IO_ERROR',
        `${failing}: the device reported an I/O error (${failure.message}); ${until}: the disk is not ` +
          'full, it or its connection is failing. Check the kernel log (dmesg) and the disk (smartctl); ' +
          "copy the data out (distkv backup, or distkv failover to a replica) and move the node's data " +
          'directory to a sound disk',
      );
    case 'ENOSPC':
    case 'EDQUOT':
      return new DistkvError(
        'DISK_FULL',
        `${failing}: its file system is full${code === 'EDQUOT' ? ' for this user (quota)' : ''} ` +
          `(${failure.message}); ${until}: free space on it${code === 'EDQUOT' ? ' or raise the quota' : ''}`,
      );
    default:
      // Not classified: the code writes are refused with stays DISK_FULL; the message says what failed.
      return new DistkvError('DISK_FULL', `${failing} (${failure.message}); ${until}`);
  }
}
