/**
 * What a failed directory operation under a data directory means, said as an error a person can act
 * on (DATA_DIR_UNUSABLE): the path at fault, what is wrong with it, what to do. mkdir's bare EEXIST
 * for a file where `runs/` belongs, ENOTDIR for a file where a store directory belongs, or EACCES
 * for a directory distkv may not enter name neither the culprit nor the remedy.
 *
 * `dirError` returns undefined for errors it does not explain; callers then throw the original.
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
