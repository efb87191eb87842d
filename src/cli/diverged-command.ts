/**
 * `distkv diverged FILE... [--json]`: prints the records of divergence files (docs/failover.md
 * "Divergence files"), the writes a store cut off when a newer epoch forked its history, so an
 * operator can read what was lost instead of hex-dumping the file. Reads files only: no node.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DistkvError } from '../errors.js';
import { plural } from '../util/plural.js';
import { formatOptions, type OptionSpec, parseArgs, UsageError } from './args.js';
import { fileProblem, notRegular } from './files.js';
import {
  divergedNameOf,
  lackOfName,
  notDivergedFile,
  readDivergedBytes,
  recordJson,
  recordLine,
  summaryLine,
} from './diverged-read.js';
import { Output } from './output.js';

const OPTIONS: Record<string, OptionSpec> = {
  json: { type: 'boolean', help: 'one JSON object per record (the summary goes to stderr)' },
  help: { type: 'boolean', help: 'show this help' },
};

/** DIVERGED_HELP is the text of `distkv diverged --help`. */
export const DIVERGED_HELP = `Usage: distkv diverged FILE... [--json]

Prints the records of divergence files (<store dir>.diverged-<epoch>-<first>-<last>[.keys-<count>][.<n>].log),
the writes a store held above a fork when a newer epoch took over, in seq order: seq, type (put, delete,
put-ttl, expire), key, value and expiry, one record a line, tab-separated; bytes that are not
printable text are shown quoted with escapes, values over 64 bytes are cut and their size shown.
Then a summary line: the records, their seq range and the epoch that forked. A .keys-<count> file
was saved from the store's keys, its log no longer holding the range: each key last written there
with its last value, and none of the range's deletes. With --json, one JSON
object per record: key and value as UTF-8 text when valid, else key_base64 / value_base64.
A damaged or truncated file prints the records before the damage, then names its offset (exit 1).
A file that holds less than its name says (a copy cut short between two records, an emptied file)
prints what it holds, then names the first missing seq, or for a .keys-<count> file how many of
its records are missing (exit 1).
A file that cannot be read, or is no divergence file, is a usage mistake (exit 2). So is a named
pipe, a device or a directory, refused before it is read (a directory's divergence files are
listed, to name instead).

Options:
${formatOptions(OPTIONS)}`;

/** divergedCommand runs `distkv diverged`. */
export function divergedCommand(argv: readonly string[], out = new Output(false)): Promise<number> {
  const args = parseArgs(argv, OPTIONS);
  if (args.options.get('help') === true) {
    process.stdout.write(`${DIVERGED_HELP}\n`);
    return Promise.resolve(0);
  }
  if (args.positionals.length === 0) throw new UsageError('missing FILE');
  const json = args.options.get('json') === true;
  const output = json ? new Output(true, out.tty) : out;
  for (const path of args.positionals) printFile(path, output);
  return Promise.resolve(0);
}

/** LISTED_FILES: a directory named instead of files lists at most this many of its divergence files. */
const LISTED_FILES = 10;

/**
 * directoryMistake is the message for a directory named as FILE (a node's directory, where the
 * divergence files lie beside its stores' directories): the divergence files it holds, to name
 * instead, or that it holds none. "Copy it to a file and name that", said of a pipe or a device,
 * made no sense for a directory.
 */
function directoryMistake(dir: string): string {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => divergedNameOf(n) !== undefined)
      .sort();
  } catch (err) {
    return `cannot read ${dir}: it is a directory, and its entries cannot be listed (${(err as Error).message}): name its divergence files`;
  }
  if (names.length === 0)
    return `cannot read ${dir}: it is a directory, and holds no divergence file (<store dir>.diverged-<epoch>-<first>-<last>[.keys-<count>][.<n>].log, saved beside a store's directory in its node's directory)`;
  const shown = names.slice(0, LISTED_FILES).map((n) => join(dir, n));
  const more = names.length > LISTED_FILES ? ` and ${names.length - LISTED_FILES} more` : '';
  return `cannot read ${dir}: it is a directory: name the divergence files in it (${plural(names.length, 'file')}: ${shown.join(' ')}${more})`;
}

/**
 * printFile prints one divergence file; it throws (after printing what decodes) when the file is
 * damaged or holds other records than its name says.
 */
function printFile(path: string, out: Output): void {
  let bytes: Buffer;
  try {
    // Before the read, which waits for a writer on a named pipe for ever (restore refuses one too).
    const stat = statSync(path);
    if (stat.isDirectory()) throw new UsageError(directoryMistake(path));
    const kind = notRegular(stat);
    if (kind !== undefined)
      throw new UsageError(
        `cannot read ${path}: it is ${kind}, not a regular file (divergence files are, and are read whole): copy it to a file and name that`,
      );
    bytes = readFileSync(path);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    // A file mistake, exit 2 as in every other command (files.ts): it was NOT_FOUND, exit 1.
    throw fileProblem(`cannot read ${path}`, err);
  }
  const wrong = notDivergedFile(path, bytes);
  if (wrong !== undefined) throw new UsageError(wrong, false);
  const read = readDivergedBytes(bytes);
  for (const r of read.records) out.line(out.json ? JSON.stringify(recordJson(r)) : recordLine(r));
  const summary = summaryLine(path, read);
  if (out.json) process.stderr.write(`${summary}\n`);
  else out.line(summary);
  const name = divergedNameOf(path);
  const lack = name === undefined ? undefined : lackOfName(name, read.records);
  if (read.damage !== undefined)
    throw new DistkvError(
      'CORRUPTION',
      `${path}: damaged at byte offset ${read.damage.offset}: ${read.damage.reason}; the records before it are printed above${lack === undefined ? '' : `; ${lack}`}`,
    );
  if (lack !== undefined)
    throw new DistkvError(
      'CORRUPTION',
      `${path}: does not hold what its name says (cut short or changed since it was saved): ${lack}; the records it holds are printed above`,
    );
}
