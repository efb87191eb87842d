/**
 * What the client verbs print, and how, depending on where stdout goes:
 *  - on a terminal, for people: every answer ends with a newline, and bytes that are not printable
 *    text are shown quoted with escapes ("\xff\x00"), as redis-cli does;
 *  - piped or redirected: `get` writes the value's exact bytes and nothing else, so
 *    `distkv get k > file` round-trips with `distkv set k --file file`;
 *  - `--json` (either way): one JSON document per answer (per item for `scan`), values as `value`
 *    when they are valid UTF-8 and as `value_base64` otherwise (the server's own rule).
 */

// ignoreBOM: a value's leading U+FEFF is part of it (by default the decoder drops it).
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** jsonValue renders bytes for JSON as the HTTP API does: `{value}` if valid UTF-8, else `{value_base64}`. */
export function jsonValue(bytes: Uint8Array): { value: string } | { value_base64: string } {
  try {
    return { value: STRICT_UTF8.decode(bytes) };
  } catch {
    return { value_base64: Buffer.from(bytes).toString('base64') };
  }
}

/** hasControlChar reports whether `text` holds a control character (C0, DEL or C1). */
export function hasControlChar(text: string): boolean {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what this looks for
  return /[\u0000-\u001f\u007f-\u009f]/.test(text);
}

/** isPlainText reports whether `text` prints as itself on one line (no control characters, no leading quote). */
function isPlainText(text: string): boolean {
  return !hasControlChar(text) && !text.startsWith('"');
}

/** displayBytes renders bytes for a terminal: as is when printable UTF-8 text, else quoted with escapes. */
export function displayBytes(bytes: Uint8Array): string {
  let text: string | undefined;
  try {
    text = STRICT_UTF8.decode(bytes);
  } catch {
    text = undefined;
  }
  if (text !== undefined && isPlainText(text)) return text;
  let out = '"';
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i]!;
    const char = b >= 0x80 ? utf8CharAt(bytes, i) : undefined;
    if (char !== undefined && isPlainText(char.text)) {
      out += char.text;
      i += char.length;
      continue;
    }
    out += escapeByte(b);
    i++;
  }
  return `${out}"`;
}

function escapeByte(b: number): string {
  switch (b) {
    case 0x0a:
      return '\\n';
    case 0x0d:
      return '\\r';
    case 0x09:
      return '\\t';
    case 0x22:
      return '\\"';
    case 0x5c:
      return '\\\\';
    default:
      return b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  }
}

/** utf8CharAt decodes the one multi-byte UTF-8 character at `i`, if a valid one starts there. */
function utf8CharAt(bytes: Uint8Array, i: number): { text: string; length: number } | undefined {
  const b = bytes[i]!;
  const length = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 0;
  if (length === 0 || i + length > bytes.length) return undefined;
  try {
    return { text: STRICT_UTF8.decode(bytes.subarray(i, i + length)), length };
  } catch {
    return undefined;
  }
}

/** roomIn resolves when `stream` drains, closes or fails: whichever comes first. */
function roomIn(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
  });
}

/** Output writes a verb's answers to stdout, for a terminal or for a pipe. */
export class Output {
  /** tty is true when stdout is a terminal. */
  readonly tty: boolean;
  readonly json: boolean;
  private readonly sink: (chunk: string | Uint8Array) => boolean;
  private readonly drain: () => Promise<void>;
  /** full: the last write filled the stream's buffer (it returned false). */
  private full = false;

  /**
   * `write` returns false when the stream's buffer is full, as a Writable's `write` does; `drain`
   * resolves once it has room again (or the stream is gone).
   */
  constructor(
    json: boolean,
    tty = process.stdout.isTTY,
    write: (c: string | Uint8Array) => boolean = (c) => process.stdout.write(c),
    drain: () => Promise<void> = () => roomIn(process.stdout),
  ) {
    this.json = json;
    this.tty = tty;
    this.sink = write;
    this.drain = drain;
  }

  /**
   * drained resolves once the output has room: verbs that print without end (scan --all, watch)
   * await it between pages or events, so a slow reader holds the CLI back instead of the CLI
   * holding everything not yet read in memory.
   */
  async drained(): Promise<void> {
    if (!this.full) return;
    await this.drain();
    this.full = false;
  }

  private write(chunk: string | Uint8Array): void {
    if (!this.sink(chunk)) this.full = true;
  }

  /** line prints one line of text. */
  line(text: string): void {
    this.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** doc prints a JSON document: indented on a terminal, one line when piped. */
  doc(value: unknown): void {
    this.line(JSON.stringify(value, null, this.tty ? 2 : undefined));
  }

  /** value prints a value alone: its exact bytes when piped, readable and ending with a newline on a terminal. */
  value(bytes: Uint8Array): void {
    if (this.tty) this.line(displayBytes(bytes));
    else this.write(bytes);
  }

  /** item prints one key and value: `key<TAB>value` for people, one JSON line with --json. */
  item(key: string, value: Uint8Array, keyBytes?: Buffer): void {
    if (this.json)
      this.line(
        JSON.stringify({
          key,
          ...(keyBytes === undefined ? {} : { key_base64: keyBytes.toString('base64') }),
          ...jsonValue(value),
        }),
      );
    else this.line(`${displayBytes(keyBytes ?? Buffer.from(key, 'utf8'))}\t${displayBytes(value)}`);
  }
}
