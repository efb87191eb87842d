/**
 * An incremental decoder of the chunked transfer coding of request bodies (RFC 9112 section 7.1):
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   last-chunk   = 1*("0") [ chunk-ext ] CRLF
 *
 * Input arrives in pieces cut anywhere; `feed` consumes what it can and hands out data as views
 * of the input (valid only during the call). Chunk extensions and trailer fields are read and
 * ignored. A size line or trailer line over MAX_LINE_BYTES, a size that is not hex, or missing
 * CRLFs are errors (the connection is then closed: framing is lost).
 *
 * What is ignored is still bounded, or a client could keep a connection busy forever with a body
 * of a few bytes: chunk extensions add up to at most MAX_EXTENSION_BYTES per body (Node's own
 * parser allows 16 KiB), trailer fields to at most MAX_TRAILER_BYTES (a request head's bound).
 * Each size line reports the body bytes declared so far, so a reader with a limit can refuse a
 * chunk before its data arrives (body.ts).
 */
import { MAX_HEAD_BYTES } from './http1-head.js';

const MAX_LINE_BYTES = 4096;
const MAX_CHUNK_SIZE = 2 ** 48;
const BWS_AROUND = /^[ \t]+|[ \t]+$/g;
/** TOKEN is RFC 9110's token (section 5.6.2), as a regular expression's source. */
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
/** QUOTED is a quoted-string (RFC 9110 section 5.6.4): no control character but HTAB, obs-text allowed. */
const QUOTED = '"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t \\x21-\\x7e\\x80-\\xff])*"';
/**
 * CHUNK_EXT is the chunk extensions after a size (RFC 9112 section 7.1.1), from the first `;`.
 * They were read and ignored whatever they held: a CR alone, a NUL or an unterminated quote were
 * taken, where the header check refuses such bytes against smuggling (a proxy in front may frame
 * the line otherwise).
 */
const CHUNK_EXT = new RegExp(
  `^(?:[ \\t]*;[ \\t]*${TOKEN}(?:[ \\t]*=[ \\t]*(?:${TOKEN}|${QUOTED}))?)*[ \\t]*$`,
);
/** TRAILER_FIELD is a trailer field line: a token name, a colon, a value without control characters but HTAB. */
const TRAILER_FIELD = new RegExp(`^${TOKEN}:[\\t \\x21-\\x7e\\x80-\\xff]*$`);

/** MAX_EXTENSION_BYTES bounds the chunk extensions of one body (every `;...` after a size, summed). */
export const MAX_EXTENSION_BYTES = 16 * 1024;
/** MAX_TRAILER_BYTES bounds the trailer section of one body (its lines with their CRLFs). */
export const MAX_TRAILER_BYTES = MAX_HEAD_BYTES;

const SIZE = 0; // reading a chunk-size line
const DATA = 1; // reading chunk-data
const DATA_CRLF = 2; // reading the CRLF after chunk-data
const TRAILER = 3; // reading trailer lines until an empty one
const DONE = 4;

/** ChunkResult: bytes consumed from the input, whether the body ended, or an error message. */
export interface ChunkResult {
  consumed: number;
  done: boolean;
  error: string | undefined;
}

/** ChunkedDecoder decodes one chunked body. */
export class ChunkedDecoder {
  private state = SIZE;
  private remaining = 0;
  // body bytes declared by the size lines so far, and the bounded extension and trailer bytes
  private declared = 0;
  private extensionBytes = 0;
  private trailerBytes = 0;
  // a line cut by the end of the input, kept as latin1 until its CRLF arrives
  private partial = '';

  /**
   * feed decodes from `input`, calling `onData` with each piece of chunk data and `onSize` with
   * the body bytes declared so far after each chunk-size line (before that chunk's data).
   */
  feed(input: Buffer, onData: (data: Buffer) => void, onSize?: (declared: number) => void): ChunkResult {
    let pos = 0;
    while (pos < input.length && this.state !== DONE) {
      if (this.state === DATA) {
        const n = Math.min(this.remaining, input.length - pos);
        onData(input.subarray(pos, pos + n));
        pos += n;
        this.remaining -= n;
        if (this.remaining === 0) this.state = DATA_CRLF;
        continue;
      }
      const lf = input.indexOf(10, pos);
      const end = lf < 0 ? input.length : lf + 1;
      this.partial += input.toString('latin1', pos, end);
      pos = end;
      if (this.partial.length > MAX_LINE_BYTES + 2)
        return this.fail(pos, 'chunk size or trailer line too long');
      if (lf < 0) break;
      const line = this.partial;
      this.partial = '';
      if (!line.endsWith('\r\n')) return this.fail(pos, 'chunked body line without CRLF');
      const error = this.line(line.slice(0, -2));
      if (error !== undefined) return this.fail(pos, error);
      if (this.state === DATA) onSize?.(this.declared);
    }
    return { consumed: pos, done: this.state === DONE, error: undefined };
  }

  private line(text: string): string | undefined {
    switch (this.state) {
      case SIZE: {
        const semi = text.indexOf(';');
        if (semi >= 0) {
          this.extensionBytes += text.length - semi;
          if (this.extensionBytes > MAX_EXTENSION_BYTES)
            return `chunk extensions over ${MAX_EXTENSION_BYTES} bytes in one body`;
          if (!CHUNK_EXT.test(text.slice(semi)))
            return `chunk extension ${JSON.stringify(text.slice(semi, semi + 40))} is not ;name[=token or "quoted"]`;
        }
        // Only SP and HTAB around the size (BWS, RFC 9112 section 7.1.1): String.trim also drops
        // VT, FF and NBSP, reading as hex a size that a proxy in front may frame otherwise.
        const hex = (semi < 0 ? text : text.slice(0, semi)).replace(BWS_AROUND, '');
        if (!/^[0-9a-fA-F]+$/.test(hex)) return `chunk size "${hex.slice(0, 20)}" is not hexadecimal`;
        // (leading zeros are allowed: a size of any length that parses within the limit is taken)
        const size = hex.length > 12 && !/^0*[0-9a-fA-F]{1,12}$/.test(hex) ? Infinity : parseInt(hex, 16);
        if (size > MAX_CHUNK_SIZE) return `chunk size 0x${hex.slice(0, 20)} is over ${MAX_CHUNK_SIZE} bytes`;
        if (size === 0) this.state = TRAILER;
        else {
          this.remaining = size;
          this.declared += size;
          this.state = DATA;
        }
        return undefined;
      }
      case DATA_CRLF:
        if (text !== '') return 'chunk data longer than its size';
        this.state = SIZE;
        return undefined;
      default: // TRAILER
        if (text === '') this.state = DONE;
        else if (!TRAILER_FIELD.test(text))
          return `trailer line ${JSON.stringify(text.slice(0, 40))} is not a field (name: value, no control character)`;
        this.trailerBytes += text.length + 2;
        if (this.trailerBytes > MAX_TRAILER_BYTES) return `trailer fields over ${MAX_TRAILER_BYTES} bytes`;
        return undefined;
    }
  }

  private fail(consumed: number, error: string): ChunkResult {
    this.state = DONE;
    return { consumed, done: true, error };
  }
}
