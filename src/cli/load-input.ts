/**
 * The input of `distkv load`: FILE, or standard input for "-", read once, front to back, as lines.
 *
 * It is opened, checked and its first line read before the load takes the data directory's LOCK
 * or opens a store (load.ts), so what is wrong with the input itself is a usage mistake (exit 2)
 * that touches nothing: a directory (open() takes one, and the first read failed with a bare
 * "EISDIR" after every store was marked LOADING, which then made serve refuse the fresh data
 * directory), a path that is neither a file nor a pipe, a distkv backup (binary, for `distkv
 * restore`), or a first read that fails. A pipe (a FIFO, /dev/stdin) is read like standard input:
 * a load reads its input once, unlike a restore (restore-file.ts). A read that fails later throws
 * InputReadError, naming the input and the last line read, for load.ts to say what became of the
 * stores.
 *
 * Lines are read as bytes (ended by LF, CR LF or CR, as readline ended them) and each is decoded
 * as UTF-8, strictly: JSON text is UTF-8 (RFC 8259), and readline's decoding put U+FFFD for bytes
 * that are not (a Latin-1 export), so a load changed such keys and values without a word, and two
 * keys that differ only there became one (a tester's find). A line that is not UTF-8 is refused
 * as INVALID_BODY, naming its number and the first byte that is not, as a line that is not JSON
 * is. A line is bounded too (`maxLineBytes`, from the config's key and value limits): readline
 * collected a line of any length, and one over V8's longest string (~512 MiB: a file with no line
 * end) crashed the load with a stack trace, leaving every store marked LOADING.
 */
import { constants, isUtf8 } from 'node:buffer';
import { type FileHandle, open, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { DistkvError } from '../errors.js';
import { reasonOf } from '../util/fs-reason.js';
import { UsageError } from './args.js';
import { fileProblem } from './files.js';

/** BOM is the byte order mark as it reads from UTF-8 (EF BB BF): skipped at the start of the input. */
const BOM = '\ufeff';

/** BACKUP_START is how a distkv backup file begins (backup-format.ts BACKUP_MAGIC, "DKVB"), read as text. */
const BACKUP_START = 'DKVB';

/**
 * maxLineBytes bounds a line of a load whose keys are at most `maxKey` bytes and values `maxValue`:
 * each byte written as a JSON escape ("\u0000", 6 bytes), room for the field names and blanks,
 * and at most V8's longest string.
 */
export function maxLineBytes(maxKey: number, maxValue: number): number {
  return Math.min(6 * (maxKey + maxValue) + 4096, constants.MAX_STRING_LENGTH);
}

/** A Line is a line's bytes, or `tooLong` once a line passed the bound (the rest of it is not read). */
type Line = { bytes: Buffer; tooLong?: undefined } | { bytes?: undefined; tooLong: true };

const LF = 0x0a;
const CR = 0x0d;

/** byteLines yields the lines of `input` (ended by LF, CR LF or CR; a last line without an end too), each at most `max` bytes. */
async function* byteLines(input: Readable, max: number): AsyncGenerator<Line> {
  let parts: Buffer[] = [];
  let size = 0;
  // skipLF: the last chunk ended in CR, whose LF may open this one.
  let skipLF = false;
  for await (const chunk of chunksOf(input)) {
    let pos = 0;
    let lf = -2;
    let cr = -2;
    while (pos < chunk.length) {
      if (skipLF) {
        skipLF = false;
        if (chunk[pos] === LF) {
          pos++;
          continue;
        }
      }
      if (lf !== -1 && lf < pos) lf = chunk.indexOf(LF, pos);
      if (cr !== -1 && cr < pos) cr = chunk.indexOf(CR, pos);
      const end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      const stop = end === -1 ? chunk.length : end;
      size += stop - pos;
      if (size > max) {
        yield { tooLong: true };
        return;
      }
      parts.push(chunk.subarray(pos, stop));
      if (end === -1) break;
      yield { bytes: parts.length === 1 ? parts[0]! : Buffer.concat(parts, size) };
      parts = [];
      size = 0;
      skipLF = chunk[end] === CR;
      pos = end + 1;
    }
  }
  if (parts.length > 0) yield { bytes: Buffer.concat(parts, size) };
}

/** QUEUED_CHUNKS: chunksOf pauses its input while this many chunks wait to be taken. */
const QUEUED_CHUNKS = 16;

/**
 * chunksOf yields `input`'s chunks, and a read's failure only after the chunks read before it: a
 * stream's own async iterator drops what it holds once the stream fails, and the load then named
 * an earlier line as the last one read.
 */
async function* chunksOf(input: Readable): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  // Set by the stream's events (an object: the loop below reads what they change meanwhile).
  const at: { failed?: { err: unknown }; ended?: true } = {};
  let wake: (() => void) | undefined;
  const poke = (): void => {
    wake?.();
    wake = undefined;
  };
  const onData = (d: Buffer | string): void => {
    queue.push(typeof d === 'string' ? Buffer.from(d) : d);
    if (queue.length >= QUEUED_CHUNKS) input.pause();
    poke();
  };
  const onEnd = (): void => {
    at.ended = true;
    poke();
  };
  const onError = (err: unknown): void => {
    at.failed = { err };
    poke();
  };
  input.on('data', onData).on('end', onEnd).on('close', onEnd).on('error', onError);
  try {
    for (;;) {
      const chunk = queue.shift();
      if (chunk !== undefined) {
        if (input.isPaused() && queue.length < QUEUED_CHUNKS / 4) input.resume();
        yield chunk;
      } else if (at.failed !== undefined) throw at.failed.err;
      else if (at.ended === true) return;
      else await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    input.off('data', onData).off('end', onEnd).off('close', onEnd).off('error', onError);
  }
}

/** firstNotUtf8 is the offset of the first byte of `b` that is no part of valid UTF-8 (decoded and encoded again, the text differs there first). */
function firstNotUtf8(b: Buffer): number {
  const again = Buffer.from(b.toString('utf8'));
  let i = 0;
  while (i < b.length && b[i] === again[i]) i++;
  return i;
}

/** InputReadError is a read of the input that failed after the load began (an I/O error, a pipe's writer gone wrong). */
export class InputReadError extends UsageError {
  constructor(message: string, cause: unknown) {
    super(message, false);
    this.name = 'InputReadError';
    this.cause = cause;
  }
}

/** LoadInput hands out the input's lines that hold something, with their line numbers. */
export class LoadInput {
  /** name is how messages name the input: its path, or "standard input". */
  readonly name: string;
  /** lineNo is the number of the last line read (1-based; 0 before the first). */
  lineNo = 0;
  private readonly fh: FileHandle | undefined;
  private readonly lines: AsyncIterator<Line>;
  private readonly maxLine: number;
  /** first is the first line, read by open, until next hands it out. */
  private first: IteratorResult<Line> | undefined;

  private constructor(name: string, input: Readable, fh: FileHandle | undefined, maxLine: number) {
    this.name = name;
    this.fh = fh;
    this.maxLine = maxLine;
    this.lines = byteLines(input, maxLine);
  }

  /**
   * open opens `file` ("-": standard input) and reads its first line (of at most `maxLine` bytes);
   * it throws a UsageError naming the input when it is no input a load can read.
   */
  static async open(file: string, maxLine: number): Promise<LoadInput> {
    let fh: FileHandle | undefined;
    if (file !== '-') {
      // Before the open, which waits for a writer on a FIFO: a directory or a socket is refused at once.
      const kind = await stat(file).catch(() => undefined);
      if (kind?.isDirectory() === true)
        throw new UsageError(
          `${file} is a directory: give the file of JSON lines to load (one {"key", "value"} a line), or "-" for standard input`,
        );
      if (kind !== undefined && !kind.isFile() && !kind.isFIFO() && !kind.isCharacterDevice())
        throw new UsageError(
          `${file} is not a regular file or a pipe: a load reads JSON lines from a file or a pipe`,
        );
      try {
        fh = await open(file, 'r');
      } catch (err) {
        throw fileProblem(`cannot read ${file}`, err);
      }
    }
    const stream = fh === undefined ? process.stdin : fh.createReadStream({ autoClose: false });
    return LoadInput.fromStream(file === '-' ? 'standard input' : file, stream, fh, maxLine);
  }

  /** fromStream reads the input from `stream` (open's; tests give theirs), named `name`; it reads the first line as open says. */
  static async fromStream(
    name: string,
    stream: Readable,
    fh?: FileHandle,
    maxLine = constants.MAX_STRING_LENGTH,
  ): Promise<LoadInput> {
    const input = new LoadInput(name, stream, fh, maxLine);
    try {
      input.first = await input.lines.next();
    } catch (err) {
      await input.close();
      throw fileProblem(`cannot read ${input.name}`, err);
    }
    const first = input.first.done === true ? undefined : input.first.value.bytes;
    const line = first === undefined ? '' : first.subarray(0, BACKUP_START.length).toString('latin1');
    if (line.startsWith(BACKUP_START)) {
      await input.close();
      throw new UsageError(
        `${name} is a distkv backup file (it starts with "${BACKUP_START}"), not JSON lines: load it into a running node with distkv restore ${name === 'standard input' ? 'FILE' : name}`,
        false,
      );
    }
    return input;
  }

  /**
   * next resolves with the next line that holds something other than blanks (lineNo is its
   * number), undefined at the end of the input; a failed read rejects with InputReadError.
   */
  async next(): Promise<string | undefined> {
    for (;;) {
      let r: IteratorResult<Line>;
      if (this.first !== undefined) {
        r = this.first;
        this.first = undefined;
      } else {
        try {
          r = await this.lines.next();
        } catch (err) {
          throw new InputReadError(
            `cannot read ${this.name} after line ${this.lineNo}: ${reasonOf(err)}`,
            err,
          );
        }
      }
      if (r.done === true) return undefined;
      this.lineNo++;
      const text = this.text(r.value);
      // A UTF-8 byte order mark (Windows editors write one) opens the file, not its first key.
      const line = this.lineNo === 1 && text.startsWith(BOM) ? text.slice(BOM.length) : text;
      if (line.trim() !== '') return line;
    }
  }

  /** text decodes line `lineNo`, refusing one over the bound or that is not UTF-8 (see above). */
  private text(l: Line): string {
    const bad = (why: string): never => {
      throw new DistkvError('INVALID_BODY', `line ${this.lineNo}: ${why}`);
    };
    if (l.bytes === undefined)
      return bad(
        `longer than ${this.maxLine} bytes, more than a line of the longest key and value the config allows takes (a file that is not JSON lines, or has no line ends?)`,
      );
    // isUtf8 and toString: a TextDecoder with `fatal` made a load of 400,000 lines ~8% slower.
    if (isUtf8(l.bytes)) return l.bytes.toString('utf8');
    const at = firstNotUtf8(l.bytes);
    return bad(
      `not UTF-8 (byte ${at + 1} is 0x${l.bytes[at]!.toString(16).padStart(2, '0')}): JSON text is UTF-8; convert the file (iconv -f latin1 -t utf-8, if it is Latin-1), or give keys and values that are other bytes as "key_base64" and "value_base64"`,
    );
  }

  /** close closes the file (standard input is left open). */
  async close(): Promise<void> {
    await this.fh?.close();
  }
}
