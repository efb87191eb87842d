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
 */
import { type FileHandle, open, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { reasonOf } from '../util/fs-reason.js';
import { UsageError } from './args.js';
import { fileProblem } from './files.js';

/** BOM is the byte order mark as it reads from UTF-8 (EF BB BF): skipped at the start of the input. */
const BOM = '\ufeff';

/** BACKUP_START is how a distkv backup file begins (backup-format.ts BACKUP_MAGIC, "DKVB"), read as text. */
const BACKUP_START = 'DKVB';

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
  private readonly lines: AsyncIterator<string>;
  /** first is the first line, read by open, until next hands it out. */
  private first: IteratorResult<string> | undefined;

  private constructor(name: string, input: Readable, fh: FileHandle | undefined) {
    this.name = name;
    this.fh = fh;
    this.lines = createInterface({ input, crlfDelay: Infinity })[Symbol.asyncIterator]();
  }

  /**
   * open opens `file` ("-": standard input) and reads its first line; it throws a UsageError naming
   * the input when it is no input a load can read.
   */
  static async open(file: string): Promise<LoadInput> {
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
    return LoadInput.fromStream(file === '-' ? 'standard input' : file, stream, fh);
  }

  /** fromStream reads the input from `stream` (open's; tests give theirs), named `name`; it reads the first line as open says. */
  static async fromStream(name: string, stream: Readable, fh?: FileHandle): Promise<LoadInput> {
    const input = new LoadInput(name, stream, fh);
    try {
      input.first = await input.lines.next();
    } catch (err) {
      await input.close();
      throw fileProblem(`cannot read ${input.name}`, err);
    }
    const line = input.first.done === true ? '' : input.first.value;
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
      let r: IteratorResult<string>;
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
      // A UTF-8 byte order mark (Windows editors write one) opens the file, not its first key.
      const line = this.lineNo === 1 && r.value.startsWith(BOM) ? r.value.slice(BOM.length) : r.value;
      if (line.trim() !== '') return line;
    }
  }

  /** close closes the file (standard input is left open). */
  async close(): Promise<void> {
    await this.fh?.close();
  }
}
