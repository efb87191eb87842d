/**
 * The RESP wire grammar (Redis serialization protocol, versions 2 and 3) and the reply encoder.
 *
 *   command      := array-cmd | inline-cmd
 *   array-cmd    := '*' count CRLF ( '$' len CRLF bytes:len CRLF ){count}
 *   inline-cmd   := word ( (' ' | '\t')+ word )* CRLF          (telnet-style; '\r' optional)
 *   word         := bytes | '"' bytes with \n \r \t \b \a \xHH \<byte> '"' | "'" bytes with \' "'"
 *   reply        := '+' text CRLF                (simple string)
 *                 | '-' CODE ' ' text CRLF       (error: ERR, MOVED, CROSSSLOT, NOAUTH, ...)
 *                 | ':' integer CRLF
 *                 | '$' len CRLF bytes:len CRLF  (bulk string)
 *                 | '*' count CRLF reply{count}  (array)
 *                 | null                         (RESP2: '$-1' CRLF or '*-1' CRLF; RESP3: '_' CRLF)
 *                 | '%' pairs CRLF reply{2*pairs} (RESP3 map; RESP2 sends it as a flat array)
 *                 | '~' count CRLF reply{count}  (RESP3 set; RESP2 sends it as an array)
 *                 | '=' len CRLF 'txt:' bytes:len-4 CRLF (RESP3 verbatim text; RESP2 a bulk string)
 *
 * A connection speaks RESP2 until `HELLO 3`. docs/resp.md mirrors this grammar and lists the commands.
 */
import type { ErrorCounts } from './resp-metrics.js';

/** CRLF ends every line of the protocol. */
export const CRLF = Buffer.from('\r\n');
/** MAX_ARRAY_COUNT bounds the arguments of one command (Redis's limit before 7.0; 7.0 allows 2^31). */
export const MAX_ARRAY_COUNT = 1024 * 1024;
/**
 * COMMAND_EXTRA_BYTES is how much more than its largest bulk one command's bulks may take together
 * (RespParser's `maxCommand`): an MSET of 64 values of 1 MiB fits, an MSET of GiBs does not.
 */
export const COMMAND_EXTRA_BYTES = 64 * 1024 * 1024;
/** MAX_INLINE_BYTES bounds an inline command or a count line (Redis's limit). */
export const MAX_INLINE_BYTES = 64 * 1024;

/** ProtocolVersion is 2 (RESP2) or 3 (RESP3). */
export type ProtocolVersion = 2 | 3;

const NIL2 = Buffer.from('$-1\r\n');
const NIL_ARRAY2 = Buffer.from('*-1\r\n');
const NIL3 = Buffer.from('_\r\n');
const OK = Buffer.from('+OK\r\n');
const INITIAL_BYTES = 16 * 1024;
const DOLLAR = 0x24;
const STAR = 0x2a;
/** MAX_COUNT_LINE bounds a type byte, a length of up to 16 digits and CRLF. */
const MAX_COUNT_LINE = 1 + 16 + 2;
/** SHARE_BYTES is the smallest value `bulkShared` keeps by reference instead of copying. */
export const SHARE_BYTES = 64 * 1024;

/**
 * RespWriter appends replies to a growable buffer. `proto` picks the RESP2 or RESP3 form of nulls
 * and maps. `take()` hands out a copy of what was written and empties the writer; a connection's
 * writer instead sends `view()`, the bytes in place, and `release`s them: when the socket took
 * them at once (the usual case) the buffer is reused, else the writer moves to a new one.
 *
 * Large values by reference: `bulkShared` (an MGET's reply, gather.ts) does not copy a value of
 * SHARE_BYTES or more into the buffer; the writer then holds a list of parts (the bytes written
 * before it, the value itself, then the buffer again), and the connection sends them in one
 * `writev` (`chunks()`). Copied, an MGET of 63 values of 1 MiB grew one buffer to 64 MiB by
 * doubling (each growth copying everything before it) on the main thread, in one turn that every
 * other connection of the node waited behind (docs/resp.md, "Large replies").
 */
export class RespWriter {
  proto: ProtocolVersion;
  /** errors counts the error replies written, when set (a connection's writers: resp-metrics.ts). */
  errors: ErrorCounts | undefined = undefined;
  private buf: Buffer;
  private len = 0;
  /** parts are the bytes before buf[start, len) when a value was kept by reference (`bulkShared`). */
  private parts: Buffer[] = [];
  private partBytes = 0;
  private start = 0;
  /** copied counts the bytes copied into the buffer when it grew (tests: resp-writer-shared). */
  copied = 0;

  constructor(proto: ProtocolVersion, initialBytes = INITIAL_BYTES) {
    this.proto = proto;
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** length is the number of bytes written and not yet taken. */
  get length(): number {
    return this.partBytes + this.len - this.start;
  }

  /** shared reports whether a value is held by reference: send `chunks()`, not `view()`. */
  get shared(): boolean {
    return this.parts.length > 0;
  }

  /** take returns a copy of the bytes written and empties the writer. */
  take(): Buffer {
    const out = this.shared ? Buffer.concat(this.chunks()) : Buffer.from(this.buf.subarray(0, this.len));
    this.discard();
    return out;
  }

  /** view returns the bytes written in place (joined when `shared`): valid until the next write to this writer or `release`. */
  view(): Buffer {
    return this.shared ? Buffer.concat(this.chunks()) : this.buf.subarray(0, this.len);
  }

  /** chunks returns the bytes written as parts in order (values of `bulkShared` among them), valid as `view()`'s. */
  chunks(): Buffer[] {
    const out = this.parts.slice();
    if (this.len > this.start) out.push(this.buf.subarray(this.start, this.len));
    return out;
  }

  /**
   * release empties the writer once its `view()` or `chunks()` was sent; `kept`: the socket still
   * holds those bytes (a write queued or buffered), so the writer must not overwrite them: it takes
   * a new buffer.
   */
  release(kept: boolean): void {
    this.discard();
    if (kept) this.buf = Buffer.allocUnsafe(INITIAL_BYTES);
  }

  /** discard drops the bytes written (the connection they were for is gone). */
  discard(): void {
    this.len = 0;
    this.start = 0;
    if (this.parts.length > 0) this.parts = [];
    this.partBytes = 0;
  }

  /**
   * append moves what `w` holds to the end of this writer (its shared values by reference) and
   * empties `w`. `w`'s parts may be slices of its buffer: it then writes on in a new one.
   */
  append(w: RespWriter): void {
    const shared = w.shared;
    if (shared) {
      for (const part of w.parts) this.share(part);
      w.parts = [];
      w.partBytes = 0;
    }
    this.raw(w.buf.subarray(w.start, w.len));
    w.discard();
    if (shared) w.buf = Buffer.allocUnsafe(INITIAL_BYTES);
  }

  /**
   * bulkShared writes a bulk string whose value the caller leaves unchanged until the reply is
   * sent: one of SHARE_BYTES or more is kept by reference, not copied (see the class comment).
   */
  bulkShared(value: Buffer): void {
    if (value.length < SHARE_BYTES) {
      this.bulk(value);
      return;
    }
    this.count(DOLLAR, value.length);
    this.share(value);
    this.raw(CRLF);
  }

  /** share ends the buffer's current part and adds `part` after it, by reference. */
  private share(part: Buffer): void {
    if (this.len > this.start) {
      this.parts.push(this.buf.subarray(this.start, this.len));
      this.partBytes += this.len - this.start;
      this.start = this.len;
    }
    this.parts.push(part);
    this.partBytes += part.length;
  }

  /** raw appends encoded bytes as they are. */
  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  /** ok writes `+OK`. */
  ok(): void {
    this.raw(OK);
  }

  /** simple writes a simple string (no CR or LF inside). */
  simple(text: string): void {
    this.line('+', text);
  }

  /** error writes an error; `text` starts with its code ("ERR ...", "MOVED ..."). */
  error(text: string): void {
    this.errors?.add(text);
    this.line('-', text.replaceAll(/[\r\n]+/g, ' '));
  }

  /** errorBytes writes an error of raw bytes (starting with its code), each CR or LF in it made a space, as Redis does. */
  errorBytes(text: Uint8Array): void {
    this.errors?.addBytes(text);
    this.reserve(text.length + 3);
    const b = this.buf;
    b[this.len++] = 0x2d;
    for (const c of text) b[this.len++] = c === 13 || c === 10 ? 0x20 : c;
    b[this.len++] = 13;
    b[this.len++] = 10;
  }

  /** integer writes an integer. */
  integer(n: number | bigint): void {
    this.line(':', String(n));
  }

  /** bulk writes a bulk string (a string is written as UTF-8). */
  bulk(value: Uint8Array | string): void {
    if (typeof value === 'string') {
      const n = Buffer.byteLength(value);
      this.count(DOLLAR, n);
      this.reserve(n + 2);
      this.len += this.buf.write(value, this.len, 'utf8');
    } else {
      this.count(DOLLAR, value.length);
      this.reserve(value.length + 2);
      this.buf.set(value, this.len);
      this.len += value.length;
    }
    this.buf[this.len++] = 13;
    this.buf[this.len++] = 10;
  }

  /** nil writes a null bulk string. */
  nil(): void {
    this.raw(this.proto === 3 ? NIL3 : NIL2);
  }

  /** nilArray writes a null array. */
  nilArray(): void {
    this.raw(this.proto === 3 ? NIL3 : NIL_ARRAY2);
  }

  /** help writes a HELP reply: an array of simple strings, one per line of `lines`. */
  help(lines: readonly string[]): void {
    this.array(lines.length);
    for (const line of lines) this.simple(line);
  }

  /** array writes the header of an array of `count` replies. */
  array(count: number): void {
    this.count(STAR, count);
  }

  /** set writes the header of a set of `count` replies (an array in RESP2). */
  set(count: number): void {
    if (this.proto === 3) this.line('~', String(count));
    else this.count(STAR, count);
  }

  /**
   * verbatim writes text as Redis writes its human-readable replies (INFO, CLUSTER NODES, CLIENT
   * INFO): a RESP3 verbatim string of format `txt`, a bulk string in RESP2.
   */
  verbatim(text: string): void {
    if (this.proto === 2) {
      this.bulk(text);
      return;
    }
    const n = Buffer.byteLength(text);
    this.line('=', String(n + 4));
    this.reserve(n + 6);
    this.len += this.buf.write('txt:', this.len, 'latin1');
    this.len += this.buf.write(text, this.len, 'utf8');
    this.buf[this.len++] = 13;
    this.buf[this.len++] = 10;
  }

  /** map writes the header of a map of `pairs` key/value pairs (a flat array in RESP2). */
  map(pairs: number): void {
    if (this.proto === 3) this.line('%', String(pairs));
    else this.line('*', String(pairs * 2));
  }

  /** stringMap writes a map of string keys to strings, integers or nested replies written by a function. */
  stringMap(entries: readonly (readonly [string, string | number | ((w: RespWriter) => void)])[]): void {
    this.map(entries.length);
    for (const [k, v] of entries) {
      this.bulk(k);
      if (typeof v === 'string') this.bulk(v);
      else if (typeof v === 'number') this.integer(v);
      else v(this);
    }
  }

  /** count writes a line of `type` and a length (a non-negative integer) without making a string of it. */
  private count(type: number, n: number): void {
    this.reserve(MAX_COUNT_LINE);
    const b = this.buf;
    b[this.len++] = type;
    if (n < 10) b[this.len++] = 0x30 + n;
    else {
      let digits = 1;
      for (let v = n; v >= 10; v = Math.floor(v / 10)) digits++;
      let at = this.len + digits;
      this.len = at;
      for (let v = n; v > 0; v = Math.floor(v / 10)) b[--at] = 0x30 + (v % 10);
    }
    b[this.len++] = 13;
    b[this.len++] = 10;
  }

  private line(type: string, text: string): void {
    const n = text.length * 3 + 3;
    this.reserve(n);
    const b = this.buf;
    b[this.len++] = type.charCodeAt(0);
    this.len += b.write(text, this.len, 'utf8');
    b[this.len++] = 13;
    b[this.len++] = 10;
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    // Bytes before `start` are in `parts` (which keep the old buffer): only the current part moves.
    const used = this.len - this.start;
    let size = this.buf.length * 2;
    while (size < used + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, this.start, this.len);
    this.copied += used;
    this.buf = next;
    this.len = used;
    this.start = 0;
  }
}
