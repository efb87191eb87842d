/**
 * The FILE of `distkv restore` (restore.ts), checked before anything is written: it must be a
 * regular file (a restore reads it twice, which a pipe cannot give), its crc must match and every
 * entry parse, and no key or value it would write may be over the limits a node of the target
 * cluster reports (`limits` in `/cluster`): a restore used to write every key up to the first one
 * too large, and stop there. An entry that has expired is not written, so it is not checked. Its
 * shard sections must be the shards its summary lists (backup-sections.ts), and a file whose size
 * reads 0 but that holds bytes (/proc) is refused as a pipe is.
 */
import { isUtf8 } from 'node:buffer';
import { type FileHandle, open, stat } from 'node:fs/promises';
import { keyText } from '../client/key-bytes.js';
import type { ClusterView } from '../client/types.js';
import { DistkvError } from '../errors.js';
import { plural } from '../util/plural.js';
import { UsageError } from './args.js';
import { checkCrc, readEntries } from './backup-file.js';
import { fileProblem } from './files.js';
import { expiredAt } from './restore-writer.js';

/** CheckedBackup is a backup file opened and checked whole; its reader closes `fh`. */
export interface CheckedBackup {
  fh: FileHandle;
  size: number;
  /** largest is the largest key and value that a restore would write (an expired key is not written). */
  largest: Largest;
  /** fuzzy names the shards backed up with --allow-fuzzy (not one instant of the shard), in file order. */
  fuzzy: FuzzyShard[];
}

/** FuzzyShard is a shard of a backup copied while it was written to (`consistent` 0). */
export interface FuzzyShard {
  idx: number;
  name?: string;
}

/**
 * openBackup opens FILE and checks it whole (crc, every entry): a UsageError names what is wrong
 * with it ("-", a pipe or a device, unreadable, not a usable backup), the file closed again.
 */
export async function openBackup(file: string): Promise<CheckedBackup> {
  // "-" is standard input to every other verb that takes a file; a restore reads FILE twice (all
  // of it is checked before anything is written), which a pipe cannot give.
  if (file === '-')
    throw new UsageError(
      'a backup is restored from a file (checked whole before anything is written), not from standard input: name the file (./- for a file called "-")',
    );
  // Before the open, which waits for a writer on a FIFO: a pipe or a device (/dev/stdin fed by
  // `cat`) read as a file seemed "empty (0 bytes), so it is no backup", or hung.
  const kind = await stat(file).catch(() => undefined);
  if (kind !== undefined && !kind.isFile() && !kind.isDirectory())
    throw new UsageError(
      `${file} is not a regular file (a pipe or a device): a restore reads its file twice (all of it is checked before anything is written), which a pipe cannot give: save the backup to a file and restore that`,
    );
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    throw fileProblem(`cannot read ${file}`, err);
  }
  try {
    const size = (await fh.stat()).size;
    // A file the kernel makes as it is read (/proc/self/status) is regular with size 0 and
    // content: it was called "empty (0 bytes)". What it reads may change between the check and the
    // write, and a backup is never such a file: refuse it as a pipe is, saying why.
    if (size === 0 && (await fh.read(Buffer.alloc(1), 0, 1, 0)).bytesRead > 0)
      throw new UsageError(
        `${file} is not a file on disk: its size reads 0 bytes yet it holds bytes (a file the system makes as it is read, as those under /proc and /sys are), so a restore cannot check it whole and then write what it checked: restore a file distkv backup wrote`,
      );
    const largest = new Largest();
    let fuzzy: FuzzyShard[];
    try {
      await checkCrc(fh, size);
      const { sections, listed } = await readEntries(fh, size, (e) => {
        if (!expiredAt(e.expiresAtMs, Date.now())) largest.add(e.key, e.value);
        return Promise.resolve();
      });
      // The section's flag, or the summary's (they agree in every file a release wrote).
      const byIdx = new Map((listed ?? []).map((l) => [l.idx, l]));
      fuzzy = sections
        .map((sec) => ({ sec, l: byIdx.get(sec.idx) }))
        .filter(({ sec, l }) => !sec.consistent || l?.consistent === false)
        .map(({ sec, l }) => (l?.name === undefined ? { idx: sec.idx } : { idx: sec.idx, name: l.name }));
    } catch (err) {
      throw fileProblem(`${file} is not a usable backup`, err);
    }
    return { fh, size, largest, fuzzy };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/** SHOWN_FUZZY is how many fuzzy shards restore's result line names; it counts the others. */
const SHOWN_FUZZY = 5;

/**
 * fuzzyText says which shards of a backup were copied with --allow-fuzzy, for restore's result
 * line: each of their keys holds a value it had at some instant of its copy, not the shard at one
 * seq (docs/backup-format.md). The first SHOWN_FUZZY are named (--json lists them all); "" when none.
 */
export function fuzzyText(fuzzy: readonly FuzzyShard[]): string {
  if (fuzzy.length === 0) return '';
  const one = fuzzy.length === 1;
  const named = fuzzy
    .slice(0, SHOWN_FUZZY)
    .map((f) => (f.name === undefined ? `${f.idx}` : `${f.idx} (${f.name})`))
    .join(', ');
  const more = fuzzy.length > SHOWN_FUZZY ? ` and ${fuzzy.length - SHOWN_FUZZY} more` : '';
  return `; shard${one ? '' : 's'} ${named}${more} ${one ? 'was' : 'were'} backed up with --allow-fuzzy (written to during the copy): ${one ? 'its' : 'their'} keys hold values from different instants of the copy, not the shard at one moment`;
}

/** Largest keeps the largest key and the largest value of a backup (their bytes and key). */
export class Largest {
  keyBytes = 0;
  key: Buffer | undefined;
  valueBytes = 0;
  valueKey: Buffer | undefined;

  add(key: Buffer, value: Buffer): void {
    if (key.length > this.keyBytes) {
      this.keyBytes = key.length;
      this.key = key;
    }
    if (value.length > this.valueBytes || this.valueKey === undefined) {
      this.valueBytes = value.length;
      this.valueKey = key;
    }
  }
}

/** shortKey shows a key in a message, cut to 64 characters. */
function shortKey(key: Buffer): string {
  if (!isUtf8(key)) return keyText(key.subarray(0, 64));
  const text = key.toString('utf8');
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}

/**
 * checkLimits refuses (VALUE_TOO_LARGE or INVALID_KEY, nothing written) a backup that holds a key
 * or value over the limits a node of the cluster reported, counting them in a second pass over
 * the file (only then: a backup that fits is read twice, as before).
 */
export async function checkLimits(
  { fh, size, largest }: CheckedBackup,
  limits: NonNullable<ClusterView['limits']>,
): Promise<void> {
  const maxKey = limits.max_key_bytes;
  const maxValue = limits.max_value_bytes;
  if (largest.keyBytes <= maxKey && largest.valueBytes <= maxValue) return;
  let keys = 0;
  let values = 0;
  const now = Date.now();
  await readEntries(fh, size, (e) => {
    if (!expiredAt(e.expiresAtMs, now)) {
      if (e.key.length > maxKey) keys++;
      if (e.value.length > maxValue) values++;
    }
    return Promise.resolve();
  });
  const nothing = 'nothing was written: restore into a cluster whose nodes take them';
  if (values > 0)
    throw new DistkvError(
      'VALUE_TOO_LARGE',
      `the backup holds ${plural(values, 'value')} over the cluster's limit of ${maxValue} bytes (server.max_value_bytes), the largest ${largest.valueBytes} bytes (key ${shortKey(largest.valueKey!)}); ${nothing}`,
    );
  throw new DistkvError(
    'INVALID_KEY',
    `the backup holds ${plural(keys, 'key')} over the cluster's limit of ${maxKey} bytes (server.max_key_bytes), the longest ${largest.keyBytes} bytes (key ${shortKey(largest.key!)}); ${nothing}`,
  );
}
