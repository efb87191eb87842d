/**
 * fs-reason: a file system call's failure in words ("no space left on the device"), for every
 * message that names a file or directory distkv could not read or write: the CLI's files, a
 * config file. One table, so a code reads the same wherever it is reported.
 */

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a component of the path is not a directory',
  EEXIST: 'it already exists',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exhausted',
  EFBIG: 'the file is larger than the system allows (a file size limit, ulimit -f, or the file system)',
  EIO: 'an input/output error (the disk or its file system failed)',
  EROFS: 'the file system is read-only',
  ERR_FS_FILE_TOO_LARGE: 'it is larger than 2 GiB',
};

/**
 * reasonOf says in words why a file system call failed; for a code without words, the system's
 * own description from Node's message (`ELOOP: too many symbolic links encountered, open '/x'`
 * gives "too many symbolic links encountered (ELOOP)": the path is named by the caller), else the
 * code as it is.
 */
export function reasonOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return (err as Error).message;
  const known = REASONS[code];
  if (known !== undefined) return known;
  const message = (err as { message?: unknown }).message;
  const described =
    typeof message === 'string' && message.startsWith(`${code}: `)
      ? message.slice(code.length + 2).replace(/, \w+ '.*$/s, '')
      : '';
  return described === '' ? code : `${described} (${code})`;
}
