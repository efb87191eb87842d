/**
 * The bytes of the two answers the front door sends most: the 204 of a single-key write and the
 * 200 of a single-key read with its value (http1-exchange.ts, `endNoContent` and `endValue`),
 * encoded straight into one Buffer rather than built as a string of six or more pieces, flattened
 * and encoded again by the socket (docs/performance.md, "Reply heads as bytes").
 *
 * Grammar (RFC 9112 section 4; every piece ASCII, CRLF-terminated lines):
 *   written := prefix(204) "X-Distkv-Seq: " seq CRLF [ name ": " value CRLF ] connection CRLF
 *   value   := prefix(200) [ "X-Distkv-Lag: " lag CRLF ] [ "ETag: " etag CRLF ]
 *              "Content-Type: application/octet-stream" CRLF "Content-Length: " length CRLF
 *              connection CRLF body
 *   prefix(code) := "HTTP/1.1 " code " " reason CRLF "Date: " IMF-fixdate CRLF
 *   connection   := "" | "Connection: close" CRLF | "Connection: keep-alive" CRLF
 * The same bytes, byte for byte, as the string heads of `HttpResponse` (test/unit/http1-reply-head.test.ts).
 *
 * `ReplyPrefixes` keeps the prefixes of the current Date line: rebuilt when the line changes (once
 * a second), so a reply copies one constant Buffer for its status line and Date.
 */

/** ReplyCode is a status whose head prefix is kept: 204 No Content or 200 OK. */
export type ReplyCode = 200 | 204;

const STATUS_204 = 'HTTP/1.1 204 No Content\r\n';
const STATUS_200 = 'HTTP/1.1 200 OK\r\n';
const SEQ_NAME = 'X-Distkv-Seq: ';
const LAG_NAME = 'X-Distkv-Lag: ';
const ETAG_NAME = 'ETag: ';
const OCTET_STREAM_LENGTH = 'Content-Type: application/octet-stream\r\nContent-Length: ';

/** ReplyPrefixes holds `prefix(200)` and `prefix(204)` for the Date line last asked for. */
export class ReplyPrefixes {
  private date = '';
  private ok: Buffer = Buffer.alloc(0);
  private noContent: Buffer = Buffer.alloc(0);

  /** of returns `prefix(code)` with `dateLine` (a `Date: ...\r\n` line); the Buffer is shared: read it only. */
  of(code: ReplyCode, dateLine: string): Buffer {
    if (dateLine !== this.date) {
      this.date = dateLine;
      this.ok = Buffer.from(STATUS_200 + dateLine, 'latin1');
      this.noContent = Buffer.from(STATUS_204 + dateLine, 'latin1');
    }
    return code === 204 ? this.noContent : this.ok;
  }
}

/** decimalLength is the number of digits of the non-negative integer `n` (up to 2^53). */
export function decimalLength(n: number): number {
  let len = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    len++;
  }
  return len;
}

/** putDecimal writes the non-negative integer `n` in decimal at `at`; returns the offset after it. */
export function putDecimal(out: Buffer, at: number, n: number): number {
  const end = at + decimalLength(n);
  let i = end;
  do {
    const q = Math.floor(n / 10);
    out[--i] = 48 + (n - q * 10);
    n = q;
  } while (n > 0);
  return end;
}

/** putAscii writes `s` (ASCII: one byte per character) at `at`; returns the offset after it. */
export function putAscii(out: Buffer, at: number, s: string): number {
  const len = s.length;
  for (let i = 0; i < len; i++) out[at + i] = s.charCodeAt(i);
  return at + len;
}

function putCrlf(out: Buffer, at: number): number {
  out[at] = 13;
  out[at + 1] = 10;
  return at + 2;
}

/**
 * encodeWritten is the head of a write's 204: `prefix` (prefix(204)), `X-Distkv-Seq`, then
 * `name: value` unless `name` is '', then `connection` (a whole line or '') and the blank line.
 * Every string ASCII.
 */
export function encodeWritten(
  prefix: Buffer,
  seq: number,
  name: string,
  value: string,
  connection: string,
): Buffer {
  const extra = name === '' ? 0 : name.length + value.length + 4;
  const size = prefix.length + SEQ_NAME.length + decimalLength(seq) + 2 + extra + connection.length + 2;
  const out = Buffer.allocUnsafe(size);
  out.set(prefix, 0);
  let at = putAscii(out, prefix.length, SEQ_NAME);
  at = putCrlf(out, putDecimal(out, at, seq));
  if (name !== '') {
    at = putAscii(out, at, name);
    out[at++] = 0x3a;
    out[at++] = 0x20;
    at = putCrlf(out, putAscii(out, at, value));
  }
  putCrlf(out, putAscii(out, at, connection));
  return out;
}

/**
 * encodeValue is a read's 200 with its value: `prefix` (prefix(200)), `X-Distkv-Lag` unless `lag`
 * is '', `ETag` unless `etag` is '', the content type and length, `connection` (a whole line or
 * ''), the blank line and `body`. Every string ASCII.
 */
export function encodeValue(
  prefix: Buffer,
  lag: string,
  etag: string,
  connection: string,
  body: Uint8Array,
): Buffer {
  const length = body.byteLength;
  const size =
    prefix.length +
    (lag === '' ? 0 : LAG_NAME.length + lag.length + 2) +
    (etag === '' ? 0 : ETAG_NAME.length + etag.length + 2) +
    OCTET_STREAM_LENGTH.length +
    decimalLength(length) +
    2 +
    connection.length +
    2 +
    length;
  const out = Buffer.allocUnsafe(size);
  out.set(prefix, 0);
  let at = prefix.length;
  if (lag !== '') at = putCrlf(out, putAscii(out, putAscii(out, at, LAG_NAME), lag));
  if (etag !== '') at = putCrlf(out, putAscii(out, putAscii(out, at, ETAG_NAME), etag));
  at = putCrlf(out, putDecimal(out, putAscii(out, at, OCTET_STREAM_LENGTH), length));
  at = putCrlf(out, putAscii(out, at, connection));
  out.set(body, at);
  return out;
}
