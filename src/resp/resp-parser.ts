/**
 * RespParser: turns the bytes of one connection into commands (arrays of byte-string arguments),
 * in the grammar of resp-format.ts, however the bytes are split into chunks.
 *
 * Arguments are views into the received chunks, valid as long as the caller keeps them, except
 * for a `transient` chunk (the listener's shared read buffer, src/server/shared-read.ts): its
 * commands' arguments are valid only during `onCommand`, and what the parser keeps of it (an
 * incomplete command, the arguments so far of an array) is copied. An incomplete command is kept; when a bulk string's length is known, chunks
 * are only gathered until it can be complete, so a 1 MiB value arriving in 64 KiB chunks is
 * concatenated once, not once per chunk. An array whose bulks arrive over many chunks keeps the
 * arguments read so far and holds only its unparsed tail, so a command of a million arguments costs
 * linear time, not a re-parse per chunk. Inline commands split as Redis splits them (quotes and
 * escapes, splitInline). A protocol error is returned with Redis's wording (counts and lengths
 * are plain decimals as Redis's string2ll reads them: no sign but a leading '-', no leading zero);
 * the connection must then be closed, as Redis does. Until the connection authenticates
 * (`authRequired`), Redis's tighter limits apply: 10 arguments, 16 KiB per bulk.
 *
 * Bounds on what one command makes the parser hold: MAX_ARRAY_COUNT arguments, `maxBulk` bytes
 * per bulk, and `maxCommand` bytes for its bulks together (Redis's `client-query-buffer-limit`,
 * which closes the connection), checked when the command waits for more input: a bulk length
 * that would pass it is refused when it is read, before its bytes arrive, so an array announced
 * with a million 1 MiB bulks holds at most `maxCommand`. A command complete in the input read so
 * far holds nothing more than that input, and costs no check.
 */
import { COMMAND_EXTRA_BYTES, MAX_ARRAY_COUNT, MAX_INLINE_BYTES } from './resp-format.js';
import { splitInline } from './inline-split.js';

/** OnCommand receives one command; returning false stops parsing (the rest stays buffered). */
export type OnCommand = (args: Buffer[]) => boolean;

/**
 * OnGetSet receives a GET (`value` undefined) or a SET of a key and a value only, recognised by its
 * exact framing (`*2 $3 GET $n key`, `*3 $3 SET $n key $m value`, the name in any case) complete
 * in the input: the key and value are views of the input valid only during the call. It returns
 * whether to go on parsing, as OnCommand does, or undefined when it does not take the command: the
 * parser then parses it the general way and gives it to `onCommand`. At `-P 1` every command of a
 * GET/SET workload is one: it costs no arguments array and no Buffer views (a plain Uint8Array view
 * is a fraction of a Buffer's, which is made through the species constructor).
 */
export type OnGetSet = (key: Uint8Array, value: Uint8Array | undefined) => boolean | undefined;

const STAR = 0x2a;
const DOLLAR = 0x24;
const CR = 0x0d;
const LF = 0x0a;
const ZERO = 0x30;
const INCOMPLETE = -1;
/** UNAUTHENTICATED_MAX_COUNT and UNAUTHENTICATED_MAX_BULK are Redis's limits before AUTH. */
const UNAUTHENTICATED_MAX_COUNT = 10;
const UNAUTHENTICATED_MAX_BULK = 16 * 1024;
/** GET_NAME and SET_NAME are the first argument of every GET and SET (any case): one shared buffer each, not a view per command. */
export const GET_NAME: Buffer = Buffer.from('GET');
export const SET_NAME: Buffer = Buffer.from('SET');

/** RespParser is the incremental command parser of one connection. */
export class RespParser {
  /** authRequired applies Redis's limits for a connection that has not authenticated yet. */
  authRequired = false;
  private readonly maxBulk: number;
  private readonly maxCommand: number;
  /** commandBytes is the size (framing included) of the bulks an incomplete array (`partial`) has so far. */
  private commandBytes = 0;
  private readonly held: Buffer[] = [];
  private heldBytes = 0;
  /** need is how many held bytes the next command needs at least before parsing is retried. */
  private need = 0;
  private error: string | undefined;
  /** next is where the line read by the last successful readLength ends (after its LF). */
  private next = 0;
  /** partial holds the arguments read so far of an array whose next bulk has not arrived. */
  private partial: Buffer[] | undefined;
  /** partialLeft is how many bulks `partial` still lacks. */
  private partialLeft = 0;
  /**
   * partialKept is how many of `partial`'s arguments are already safe to keep (copies, or views of
   * input that stays valid): a suspend copies only the ones after it. Copying them all again at
   * each suspend cost quadratic time for an array whose transient reads end at bulk boundaries.
   */
  private partialKept = 0;
  /** resume is where the held input restarts after an INCOMPLETE inside an array's bulks, or -1. */
  private resume = -1;
  /** inPlace is set while a transient chunk is parsed where it lies: what is kept of it is copied. */
  private inPlace = false;
  /**
   * lineWait is set when the held input stopped in a line (count, length or inline) with no CR or
   * LF after its start: a chunk that has neither cannot end it, so it is held without re-joining
   * and re-scanning what is held (a line fed a byte per read would cost quadratic time).
   */
  private lineWait = false;
  /** keyAt, keyLength, valueAt (-1: none) and valueLength locate the arguments parseGetSet found. */
  private keyAt = 0;
  private keyLength = 0;
  private valueAt = -1;
  private valueLength = 0;

  /** `maxCommand` bounds the bulks of one command together (default: `maxBulk` + COMMAND_EXTRA_BYTES). */
  constructor(maxBulk: number, maxCommand = maxBulk + COMMAND_EXTRA_BYTES) {
    this.maxBulk = maxBulk;
    this.maxCommand = maxCommand;
  }

  /** buffered is the number of bytes held for an incomplete command. */
  get buffered(): number {
    return this.heldBytes;
  }

  /** holding is what an incomplete command holds: its bytes buffered and the arguments it has so far. */
  get holding(): number {
    return this.partial !== undefined ? this.heldBytes + this.commandBytes : this.heldBytes;
  }

  /**
   * feed parses `chunk` (appended to anything held) and calls `onCommand` per complete command.
   * It returns a protocol error message (and keeps failing) once the input is malformed. A
   * `transient` chunk is overwritten after the call: the arguments made of it are valid only
   * during `onCommand`, which copies those it keeps.
   */
  feed(
    chunk: Buffer | undefined,
    onCommand: OnCommand,
    transient = false,
    onGetSet?: OnGetSet,
  ): string | undefined {
    if (this.error !== undefined) return this.error;
    if (chunk !== undefined && chunk.length > 0) {
      this.heldBytes += chunk.length;
      // Kept whole, unparsed, until the bulk it belongs to can be complete: a transient one is copied.
      if (this.heldBytes < this.need || (this.lineWait && this.cannotEndLine(chunk))) {
        this.held.push(transient ? Buffer.from(chunk) : chunk);
        return undefined;
      }
      // A read with nothing held (every read at -P 1) is parsed without passing through `held`:
      // emptying an array with `length = 0` drops its backing store, so each push grew it again.
      if (this.held.length > 0) this.held.push(chunk);
    } else {
      chunk = undefined;
      if (this.heldBytes === 0 || this.heldBytes < this.need) return undefined;
    }
    const held = this.held;
    const data =
      held.length === 0 ? chunk! : held.length === 1 ? held[0]! : Buffer.concat(held, this.heldBytes);
    this.inPlace = transient && data === chunk;
    let pos = 0;
    this.need = 0;
    this.lineWait = false;
    let stopped = false;
    while (pos < data.length && !stopped) {
      const partial = this.partial;
      if (onGetSet !== undefined && partial === undefined && data[pos] === STAR && !this.authRequired) {
        const end = this.parseGetSet(data, pos);
        if (end > 0) {
          const memory = data.buffer;
          const base = data.byteOffset;
          const key = new Uint8Array(memory, base + this.keyAt, this.keyLength);
          const value =
            this.valueAt < 0 ? undefined : new Uint8Array(memory, base + this.valueAt, this.valueLength);
          const go = onGetSet(key, value);
          if (go !== undefined) {
            pos = end;
            stopped = !go;
            continue;
          }
        }
      }
      const args = partial ?? [];
      this.resume = -1;
      const end =
        partial !== undefined
          ? this.parseBulks(data, pos, args, this.partialLeft)
          : data[pos] === STAR
            ? this.parseArray(data, pos, args)
            : this.parseInline(data, pos, args);
      const error = this.error as string | undefined; // set by the parse calls above
      if (error !== undefined) return error;
      if (end === INCOMPLETE) {
        if (this.resume >= 0) pos = this.resume;
        break;
      }
      pos = end;
      if (partial !== undefined) {
        this.partial = undefined;
        this.partialKept = 0;
        this.commandBytes = 0;
      }
      if (args.length > 0) stopped = !onCommand(args);
    }
    if (this.need > 0) this.need -= pos;
    if (held.length > 0) held.length = 0;
    if (pos >= data.length) this.heldBytes = 0;
    else {
      const rest = this.inPlace ? Buffer.from(data.subarray(pos)) : data.subarray(pos);
      this.held.push(rest);
      this.heldBytes = rest.length;
    }
    return undefined;
  }

  /**
   * parseGetSet returns the end of the GET or SET (key and value only) at `p` when it is complete
   * in `data` and framed exactly as OnGetSet says, with its key (and value) at `keyAt`/`keyLength`
   * (`valueAt`/`valueLength`, -1 for a GET); else -1, and the general parse takes the command (it
   * gives every error and bound). As the general parse, it does not check the two bytes after a
   * bulk (Redis skips them too).
   */
  private parseGetSet(data: Buffer, p: number): number {
    const n = data.length;
    if (p + 14 > n || data[p + 2] !== CR || data[p + 3] !== LF || data[p + 4] !== DOLLAR) return -1;
    if (data[p + 5] !== 0x33 || data[p + 6] !== CR || data[p + 7] !== LF) return -1;
    const count = data[p + 1];
    const name = getOrSet(data, p + 8);
    if (name === GET_NAME ? count !== 0x32 : name !== SET_NAME || count !== 0x33) return -1;
    if (data[p + 13] !== DOLLAR) return -1;
    const keyLength = this.readLength(data, p + 14);
    const keyAt = this.next;
    if (keyLength < 0 || keyLength > this.maxBulk || keyAt + keyLength + 2 > n) return -1;
    this.keyAt = keyAt;
    this.keyLength = keyLength;
    const end = keyAt + keyLength + 2;
    if (name === GET_NAME) {
      this.valueAt = -1;
      return end;
    }
    if (end >= n || data[end] !== DOLLAR) return -1;
    const valueLength = this.readLength(data, end + 1);
    const valueAt = this.next;
    if (valueLength < 0 || valueLength > this.maxBulk || valueAt + valueLength + 2 > n) return -1;
    this.valueAt = valueAt;
    this.valueLength = valueLength;
    return valueAt + valueLength + 2;
  }

  /**
   * cannotEndLine tells whether parsing the held input with `chunk` added would stop where it did
   * (lineWait): no CR or LF in it, and the input short of every line limit, so no error either.
   */
  private cannotEndLine(chunk: Buffer): boolean {
    return this.heldBytes <= MAX_INLINE_BYTES && chunk.indexOf(CR) < 0 && chunk.indexOf(LF) < 0;
  }

  /** parseArray parses `*count` and its bulk strings into `args`; returns the end, or INCOMPLETE. */
  private parseArray(data: Buffer, start: number, args: Buffer[]): number {
    let count = this.readLength(data, start + 1);
    let p = this.next;
    if (count < 0) {
      const countEnd = this.lineEnd(data, start, 'multibulk count');
      if (countEnd < 0) return INCOMPLETE;
      const n = parseDecimal(data, start + 1, countEnd);
      if (n === undefined) count = MAX_ARRAY_COUNT + 1;
      else count = n;
      p = countEnd + 2;
    }
    if (count > MAX_ARRAY_COUNT) {
      this.error = 'Protocol error: invalid multibulk length';
      return INCOMPLETE;
    }
    if (count > UNAUTHENTICATED_MAX_COUNT && this.authRequired) {
      this.error = 'Protocol error: unauthenticated multibulk length';
      return INCOMPLETE;
    }
    return count > 0 ? this.parseBulks(data, p, args, count) : p;
  }

  /**
   * parseBulks reads `left` bulk strings from `p` into `args`; returns the end, or INCOMPLETE
   * with the arguments so far kept in `partial` and `resume` at the bulk that has not arrived.
   */
  private parseBulks(data: Buffer, p: number, args: Buffer[], left: number): number {
    const start = p;
    for (; left > 0; left--) {
      if (p >= data.length) return this.suspend(args, left, start, p, p + 1);
      if (data[p] !== DOLLAR) {
        this.error = `Protocol error: expected '$', got '${String.fromCharCode(data[p]!)}'`;
        return INCOMPLETE;
      }
      let len = this.readLength(data, p + 1);
      let from = this.next;
      if (len < 0) {
        const lenEnd = this.lineEnd(data, p, 'bulk count');
        if (this.error !== undefined) return INCOMPLETE;
        if (lenEnd < 0) return this.suspend(args, left, start, p, 0);
        len = parseDecimal(data, p + 1, lenEnd) ?? -1;
        from = lenEnd + 2;
      }
      if (len < 0 || len > this.maxBulk) {
        this.error = 'Protocol error: invalid bulk length';
        return INCOMPLETE;
      }
      if (len > UNAUTHENTICATED_MAX_BULK && this.authRequired) {
        this.error = 'Protocol error: unauthenticated bulk length';
        return INCOMPLETE;
      }
      if (from + len + 2 > data.length) return this.suspend(args, left, start, p, from + len + 2);
      const name = args.length === 0 && len === 3 ? getOrSet(data, from) : undefined;
      args.push(name ?? data.subarray(from, from + len));
      p = from + len + 2;
    }
    return p;
  }

  /**
   * suspend keeps an array's arguments so far; parsing resumes at `p` once `end` (if known) has
   * arrived. It is where `maxCommand` is checked (only an incomplete command holds more than the
   * bytes read): the bulks kept so far (`start` to `p` of this read, added to the earlier reads')
   * and the bulk being waited for must fit, else the command is refused before its bytes arrive.
   */
  private suspend(args: Buffer[], left: number, start: number, p: number, end: number): number {
    this.commandBytes += p - start;
    if (this.commandBytes + (end > p ? end - p : 0) > this.maxCommand) {
      this.error = `Protocol error: command of more than ${this.maxCommand} bytes`;
      return INCOMPLETE;
    }
    if (this.inPlace) copyArgs(args, this.partialKept);
    this.partialKept = args.length;
    this.partial = args;
    this.partialLeft = left;
    this.resume = p;
    this.need = end;
    return INCOMPLETE;
  }

  /**
   * readLength is the fast path for a count or length line: the plain decimal at `data[p]` up to
   * its CR (with the LF arrived), scanned in place; it sets `next` past the LF. Anything else (a
   * sign, another byte, a leading zero, more than 15 digits, a line not yet complete) returns -1
   * and is left to lineEnd and parseDecimal, which give Redis's errors.
   */
  private readLength(data: Buffer, p: number): number {
    const end = p + 16 < data.length ? p + 16 : data.length;
    if (data[p] === ZERO && data[p + 1] !== CR) return -1;
    let n = 0;
    for (let i = p; i < end; i++) {
      const c = data[i]!;
      if (c === CR) {
        if (i === p || i + 1 >= data.length) return -1;
        this.next = i + 2;
        return n;
      }
      const d = c - 0x30;
      if (d < 0 || d > 9) return -1;
      n = n * 10 + d;
    }
    return -1;
  }

  /** parseInline splits one line into `args` (splitInline); returns the end, or INCOMPLETE. */
  private parseInline(data: Buffer, start: number, args: Buffer[]): number {
    const nl = data.indexOf(LF, start);
    if (nl < 0 || nl - start > MAX_INLINE_BYTES) {
      if (data.length - start > MAX_INLINE_BYTES) this.error = 'Protocol error: too big inline request';
      else if (nl < 0) this.lineWait = true;
      return INCOMPLETE;
    }
    const end = nl > start && data[nl - 1] === CR ? nl - 1 : nl;
    if (!splitInline(data.subarray(start, end), args)) {
      this.error = 'Protocol error: unbalanced quotes in request';
      return INCOMPLETE;
    }
    return nl + 1;
  }

  /** lineEnd returns the index of the CR ending the line at `start`, or -1 when it has not arrived. */
  private lineEnd(data: Buffer, start: number, what: string): number {
    const cr = data.indexOf(CR, start);
    if (cr >= 0 && cr + 1 < data.length) return cr;
    if (data.length - start > MAX_INLINE_BYTES) this.error = `Protocol error: too big ${what} string`;
    else if (cr < 0) this.lineWait = true;
    return -1;
  }
}

/** copyArgs replaces each argument of `args` from `from` on by a copy (the shared GET_NAME and SET_NAME stay). */
export function copyArgs(args: Buffer[], from = 0): Buffer[] {
  for (let i = from; i < args.length; i++) {
    const a = args[i]!;
    if (a !== GET_NAME && a !== SET_NAME) args[i] = Buffer.from(a);
  }
  return args;
}

/** getOrSet returns GET_NAME or SET_NAME when the 3 bytes at `data[p]` spell GET or SET in any case, else undefined. */
function getOrSet(data: Buffer, p: number): Buffer | undefined {
  if ((data[p + 1]! | 0x20) !== 0x65 || (data[p + 2]! | 0x20) !== 0x74) return undefined;
  const first = data[p]! | 0x20;
  return first === 0x67 ? GET_NAME : first === 0x73 ? SET_NAME : undefined;
}

/** parseDecimal reads a (possibly negative) decimal integer from data[from, to) as Redis's string2ll does (no leading zero, no "-0"), or undefined. */
function parseDecimal(data: Buffer, from: number, to: number): number | undefined {
  let i = from;
  let negative = false;
  if (data[i] === 0x2d) {
    negative = true;
    i++;
  }
  if (i >= to || to - i > 15 || (data[i] === ZERO && (negative || to - i > 1))) return undefined;
  let n = 0;
  for (; i < to; i++) {
    const d = data[i]! - 0x30;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  return negative ? -n : n;
}
