/**
 * Parsing one HTTP/1.1 request head (RFC 9112 sections 2-3, 6-7): the request line and the header
 * fields, given as a latin1 string (one char per byte, so offsets are byte offsets and nothing is
 * decoded twice). Pure and synchronous; http1-connection.ts finds the head's end and calls it.
 *
 * What it decides, so the connection never guesses at framing (request smuggling):
 *  - body framing: `Transfer-Encoding: chunked` or one `Content-Length`. A Content-Length that is
 *    not digits, or two that differ (also inside one comma list), or both headers: 400. Equal
 *    duplicates are accepted (RFC 9110 section 8.6 allows it). Digits too many to read exactly
 *    read as CONTENT_LENGTH_CLAMP: over every limit, so 413 as for any length over it. A transfer coding other than a lone
 *    `chunked`: 400 (no other coding is implemented).
 *  - persistence: HTTP/1.1 keeps the connection unless `Connection: close`; HTTP/1.0 closes it
 *    unless `Connection: keep-alive`.
 *  - Host (RFC 9112 section 3.2): an HTTP/1.1 request without one, any request with two, or one
 *    that is not a host[:port] is 400, as Go's server (the seed's) answers. Its value routes
 *    nothing: the listener says which node was addressed.
 *  - field values: only SP and HTAB around a value are dropped; any other control character in
 *    it is 400 (a value padded with \v, \f or U+00A0 is not trimmed into `chunked` or a length).
 *  - `Expect: 100-continue`, in HTTP/1.1 only: an HTTP/1.0 client knows no 1xx answer, so the
 *    expectation is ignored (RFC 9110 section 10.1.1) and `100 Continue` never sent to it. Any
 *    other expectation (a member of the list other than `100-continue`) is 417: it cannot be met.
 *  - the method: one longer than MAX_METHOD_BYTES (the longest distkv implements, `OPTIONS`) is
 *    501 (RFC 9112 section 3.1), judged from its first MAX_METHOD_BYTES + 1 bytes (`longMethod`),
 *    so the head reader refuses it before the rest arrives.
 *  - `Upgrade` in an HTTP/1.0 request is dropped from its fields (RFC 9110 section 7.8: a server
 *    MUST ignore it): no route switches such a connection to another protocol.
 *  - the asterisk-form target `*`, only with OPTIONS (RFC 9112 section 3.2.4; http1-server.ts answers it).
 * Limits (docs/api.md, "HTTP/1.1"): a request target over MAX_URL_BYTES is 414, a head over
 * MAX_HEAD_BYTES is 431.
 */

/** MAX_URL_BYTES bounds the request target (path and query); over it the answer is 414. */
export const MAX_URL_BYTES = 32 * 1024;
/** MAX_HEAD_BYTES bounds the request line plus header fields; over it the answer is 431. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** IMPLEMENTED_METHODS are the methods some route of distkv answers (others of their length get 404 or 405). */
export const IMPLEMENTED_METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS'] as const;
/** MAX_METHOD_BYTES is the longest method distkv implements; a longer one is 501. */
export const MAX_METHOD_BYTES = Math.max(...IMPLEMENTED_METHODS.map((m) => m.length));
/** METHOD_TOO_LONG refuses a method longer than MAX_METHOD_BYTES. */
export const METHOD_TOO_LONG =
  `request method is longer than ${MAX_METHOD_BYTES} bytes: not implemented; ` +
  `distkv implements ${IMPLEMENTED_METHODS.join(', ')}`;

/**
 * MALFORMED_LINE refuses a request line not of three parts one space apart: HTTP/0.9's
 * `GET /kv/a`, a line ending with a space (refused as the protocol "" before), two spaces.
 */
const MALFORMED_LINE =
  'malformed request line: expected a method, a target and HTTP/1.1, one space apart (as "GET /kv/a HTTP/1.1")';

/** RequestHead is a parsed, validated request head. */
export interface RequestHead {
  method: string;
  /** path is the target's path, still percent-encoded (non-ASCII bytes decoded as UTF-8). */
  path: string;
  /** query is what follows "?" ("" when none). */
  query: string;
  /** minor is the HTTP minor version: 1 or 0. */
  minor: number;
  /** names are the header names in lower case, values their values, index for index. */
  names: string[];
  values: string[];
  /** contentLength is the body length (-1 when there is no Content-Length). */
  contentLength: number;
  chunked: boolean;
  keepAlive: boolean;
  expectContinue: boolean;
}

/** HeadError is a head that must be refused: its status and why. The connection is closed after it. */
export interface HeadError {
  status: 400 | 414 | 417 | 431 | 501;
  message: string;
}

// tchar of RFC 9110 section 5.6.2, as a 128-entry table.
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
  TCHAR[c.charCodeAt(0)] = 1;

// The characters of a reg-name or IPv4 host (RFC 3986 section 3.2.2), as a 128-entry table.
const HOST_CHAR = new Uint8Array(128);
for (const c of "-._~!$&'()*+,;=%0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
  HOST_CHAR[c.charCodeAt(0)] = 1;
const IP_LITERAL_HOST = /^\[[0-9A-Fa-f:.]+\](:\d*)?$/;

/** isHostValue reports whether a Host value is host[:port]: a reg-name, IPv4 or [IP-literal], and an optional port. */
function isHostValue(v: string): boolean {
  if (v.charCodeAt(0) === 0x5b /* '[' */) return IP_LITERAL_HOST.test(v);
  let i = 0;
  for (; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x3a /* ':' */) break;
    if (c >= 128 || HOST_CHAR[c] === 0) return false;
  }
  for (i++; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TCHAR[c] === 0) return false;
  }
  return true;
}

function bad(message: string): HeadError {
  return { status: 400, message };
}

/**
 * longMethod reports whether `text` (a head, latin1, or its first bytes) starts with more than
 * MAX_METHOD_BYTES token characters: a method longer than any distkv implements (and not yet
 * another refusal: a line that is not a token is a malformed request line or method).
 */
export function longMethod(text: string | Uint8Array, start = 0): boolean {
  if (text.length - start <= MAX_METHOD_BYTES) return false;
  for (let i = start; i <= start + MAX_METHOD_BYTES; i++) {
    const c = typeof text === 'string' ? text.charCodeAt(i) : text[i]!;
    if (c >= 128 || TCHAR[c] === 0) return false;
  }
  return true;
}

/**
 * expectation reads an Expect value (a comma list, RFC 9110 section 10.1.1): whether it asks for
 * `100-continue`, or a HeadError (417) naming a member that is anything else.
 */
function expectation(value: string): boolean | HeadError {
  let cont = false;
  for (const part of value.split(',')) {
    const member = owsTrim(part).toLowerCase();
    if (member === '') continue;
    if (member !== '100-continue')
      return {
        status: 417,
        message: `Expect "${value.slice(0, 100)}" cannot be met: the only expectation this server knows is 100-continue; send the request without it`,
      };
    cont = true;
  }
  return cont;
}

/** isHeadError tells a HeadError from a RequestHead. */
export function isHeadError(h: RequestHead | HeadError): h is HeadError {
  return 'status' in h;
}

/**
 * CONTENT_LENGTH_CLAMP is the length a Content-Length of more than 15 digits (past its leading
 * zeros) reads as: every body limit is far below it, so such a body is refused as too large (413,
 * "at least" this many bytes) like any other over the limit, not as a malformed length.
 */
export const CONTENT_LENGTH_CLAMP = Number.MAX_SAFE_INTEGER;

/** MAX_EXACT_DIGITS is the most digits a Content-Length is read exactly with (below 2^53). */
const MAX_EXACT_DIGITS = 15;

/**
 * parseContentLength reads every Content-Length value (each possibly a comma list): the length
 * (CONTENT_LENGTH_CLAMP for one too large to read exactly), or a HeadError when one is not a
 * decimal number or two differ (compared digit by digit, so two too large ones differ too).
 */
export function parseContentLength(values: readonly string[]): number | HeadError {
  if (values.length === 1) {
    const n = plainDecimal(values[0]!);
    if (n >= 0) return n;
  }
  let digits: string | undefined;
  for (const value of values) {
    for (const part of value.split(',')) {
      const text = owsTrim(part);
      if (!/^\d+$/.test(text)) return bad(`Content-Length "${value}" is not a decimal number of bytes`);
      const these = text.replace(/^0+(?=\d)/, '');
      if (digits !== undefined && these !== digits)
        return bad(
          `conflicting Content-Length values ${shortDigits(digits)} and ${shortDigits(these)}: refusing an ambiguous body`,
        );
      digits = these;
    }
  }
  if (digits === undefined) return -1;
  return digits.length > MAX_EXACT_DIGITS ? CONTENT_LENGTH_CLAMP : Number(digits);
}

/** shortDigits shows at most 40 digits of a length in a message. */
function shortDigits(digits: string): string {
  return digits.length > 40 ? `${digits.slice(0, 40)}...` : digits;
}

/** plainDecimal reads a value of 1 to 15 ASCII digits and nothing else (the usual Content-Length), else -1. */
function plainDecimal(value: string): number {
  const len = value.length;
  if (len === 0 || len > MAX_EXACT_DIGITS) return -1;
  let n = 0;
  for (let i = 0; i < len; i++) {
    const d = value.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** isOws reports whether the latin1 character `c` is optional whitespace: SP or HTAB (RFC 9110 section 5.6.3). */
function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** owsTrim removes the SP and HTAB around `s` (String.prototype.trim also removes \v, \f and U+00A0). */
function owsTrim(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isOws(s.charCodeAt(start))) start++;
  while (end > start && isOws(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/**
 * fieldValue is `head.slice(start, end)` without the SP and HTAB around it (RFC 9112 section 5),
 * or undefined when what is left holds a control character other than HTAB: NUL, CR and LF are
 * dangerous (RFC 9110 section 5.5) and no other is field-vchar. Nothing else is trimmed: a value
 * such as `chunked\v` or `\xA0chunked` is not the coding `chunked`, though a proxy in front that
 * trimmed it otherwise would frame the body otherwise (request smuggling). One scan and one slice
 * per field.
 */
function fieldValue(head: string, start: number, end: number): string | undefined {
  while (start < end && isOws(head.charCodeAt(start))) start++;
  while (end > start && isOws(head.charCodeAt(end - 1))) end--;
  for (let i = start; i < end; i++) {
    const c = head.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return undefined;
  }
  return head.slice(start, end);
}

/** hasToken reports whether a comma-separated header value lists `token` (case-insensitive). */
function hasToken(value: string, token: string): boolean {
  for (const part of value.split(',')) if (owsTrim(part).toLowerCase() === token) return true;
  return false;
}

/** parseTarget splits a request target into path and query; absolute-form loses its scheme and authority. */
function parseTarget(raw: string): { path: string; query: string } | HeadError {
  let target = raw;
  if (target.charCodeAt(0) !== 47 /* '/' */) {
    const m = /^https?:\/\/[^/?#]*/i.exec(target);
    if (m === null) {
      if (target === '*') return { path: '*', query: '' };
      return bad(`request target "${target.slice(0, 100)}" is not a path`);
    }
    target = target.slice(m[0].length);
    if (target === '' || target.startsWith('?')) target = `/${target}`;
  }
  // One pass: control characters, bytes over 0x7F, the first '#' and the first '?' before it.
  let high = false;
  let hash = -1;
  let q = -1;
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 0x20) return bad('request target has a space (send it as %20)');
    if (c < 0x20 || c === 0x7f) return bad('request target has a control character');
    if (c > 0x7f) high = true;
    else if (c === 0x23 /* '#' */) {
      if (hash < 0) hash = i;
    } else if (c === 0x3f /* '?' */ && q < 0 && hash < 0) q = i;
  }
  if (hash >= 0) target = target.slice(0, hash);
  // Bytes over 0x7F are not allowed by RFC 3986, but seed clients send raw UTF-8: decode it, and let
  // the key checks refuse what is not valid UTF-8 (it becomes U+FFFD here).
  if (high && /[\x80-\xff]/.test(target)) {
    target = Buffer.from(target, 'latin1').toString('utf8');
    q = target.indexOf('?');
  }
  return q < 0 ? { path: target, query: '' } : { path: target.slice(0, q), query: target.slice(q + 1) };
}

/**
 * knownMethod returns the constant for a standard method of `length` characters at the start of
 * `head`, else undefined: the router's and the metrics' lookups then hash one interned string
 * instead of a fresh slice per request.
 */
function knownMethod(head: string, length: number): string | undefined {
  switch (length) {
    case 3:
      return head.startsWith('GET') ? 'GET' : head.startsWith('PUT') ? 'PUT' : undefined;
    case 4:
      return head.startsWith('POST') ? 'POST' : head.startsWith('HEAD') ? 'HEAD' : undefined;
    case 6:
      return head.startsWith('DELETE') ? 'DELETE' : undefined;
    default:
      return undefined;
  }
}

/**
 * knownName returns the lower-case constant of a common header name spelled exactly `Name:` or
 * `name:` at `pos` of `head` (the colon right after it), else undefined. Such a name is a token
 * whose lower case is the constant, so it skips the slice, lower-casing and token scan of the
 * general path (and the switch below then compares interned strings).
 */
function knownName(head: string, pos: number): string | undefined {
  switch (head.charCodeAt(pos)) {
    case 0x48 /* 'H' */:
      return head.startsWith('Host:', pos) ? 'host' : undefined;
    case 0x68 /* 'h' */:
      return head.startsWith('host:', pos) ? 'host' : undefined;
    case 0x43 /* 'C' */:
      if (head.startsWith('Content-Length:', pos)) return 'content-length';
      if (head.startsWith('Content-Type:', pos)) return 'content-type';
      return head.startsWith('Connection:', pos) ? 'connection' : undefined;
    case 0x63 /* 'c' */:
      if (head.startsWith('content-length:', pos)) return 'content-length';
      if (head.startsWith('content-type:', pos)) return 'content-type';
      return head.startsWith('connection:', pos) ? 'connection' : undefined;
    default:
      return undefined;
  }
}

/**
 * crlfAt is `head.indexOf('\r\n', from)`, found by its LF: a one-character search is a fast
 * builtin, a two-character one a call into the runtime's string search. Only a bare LF first
 * (which the line's checks then refuse) takes the two-character search.
 */
function crlfAt(head: string, from: number): number {
  const lf = head.indexOf('\n', from);
  if (lf > from && head.charCodeAt(lf - 1) === 0x0d) return lf - 1;
  return lf < 0 ? -1 : head.indexOf('\r\n', from);
}

/** parseHead parses a request head (everything before the blank line, as latin1). */
export function parseHead(head: string): RequestHead | HeadError {
  if (longMethod(head)) return { status: 501, message: METHOD_TOO_LONG };
  let lineEnd = crlfAt(head, 0);
  if (lineEnd < 0) lineEnd = head.length;
  const sp1 = head.indexOf(' ');
  // The usual request line ends in " HTTP/1.1": its last space is the one before the version.
  let sp2: number;
  let minor = -1;
  if (head.startsWith(' HTTP/1.1', lineEnd - 9)) {
    sp2 = lineEnd - 9;
    minor = 1;
  } else sp2 = head.lastIndexOf(' ', lineEnd - 1);
  if (sp1 <= 0 || sp2 <= sp1 || sp2 > lineEnd) return bad(MALFORMED_LINE);
  if (sp2 - sp1 - 1 > MAX_URL_BYTES)
    return { status: 414, message: `request target is over ${MAX_URL_BYTES} bytes` };
  // A standard method is a token: only another one is scanned.
  const known = knownMethod(head, sp1);
  const method = known ?? head.slice(0, sp1);
  if (known === undefined && !isToken(method)) return bad('malformed request method');
  if (minor < 0) {
    const version = head.slice(sp2 + 1, lineEnd);
    if (version === 'HTTP/1.1') minor = 1;
    else if (version === 'HTTP/1.0') minor = 0;
    else if (version === '') return bad(MALFORMED_LINE);
    else return bad(`unsupported protocol "${version.slice(0, 20)}"; this server speaks HTTP/1.1 and 1.0`);
  }
  // A space too many around the target: it was refused as a target ' /kv/a' that is not a path.
  if (head.charCodeAt(sp1 + 1) === 0x20 || head.charCodeAt(sp2 - 1) === 0x20) return bad(MALFORMED_LINE);
  const target = parseTarget(head.slice(sp1 + 1, sp2));
  if ('status' in target) return target;
  if (target.path === '*' && method !== 'OPTIONS')
    return bad(`the target * is for OPTIONS only, not ${method}`);

  const names: string[] = [];
  const values: string[] = [];
  // the first Content-Length value; the others, when there are more, all of them in order
  let length: string | undefined;
  let lengths: string[] | undefined;
  let te: string | undefined;
  let keepAlive = minor === 1;
  let expectContinue = false;
  let hosts = 0;
  let pos = lineEnd + 2;
  while (pos < head.length) {
    let end = crlfAt(head, pos);
    if (end < 0) end = head.length;
    const first = head.charCodeAt(pos);
    if (first === 0x20 || first === 0x09) return bad('obsolete line folding in a header field');
    let name = knownName(head, pos);
    let colon: number;
    if (name !== undefined) colon = pos + name.length;
    else {
      colon = head.indexOf(':', pos);
      if (colon < 0 || colon > end) return bad('header field without a colon');
      name = head.slice(pos, colon).toLowerCase();
      if (!isToken(name)) return bad(`malformed header field name "${name.slice(0, 40)}"`);
    }
    const value = fieldValue(head, colon + 1, end);
    if (value === undefined) return bad(`header field ${name} has a forbidden character`);
    names.push(name);
    values.push(value);
    switch (name) {
      case 'content-length':
        if (length === undefined) length = value;
        else (lengths ??= [length]).push(value);
        break;
      case 'transfer-encoding':
        te = te === undefined ? value : `${te}, ${value}`;
        break;
      case 'connection':
        if (hasToken(value, 'close')) keepAlive = false;
        else if (minor === 0 && hasToken(value, 'keep-alive')) keepAlive = true;
        break;
      case 'expect': {
        const e = expectation(value);
        if (typeof e !== 'boolean') return e;
        if (e && minor === 1) expectContinue = true;
        break;
      }
      case 'upgrade':
        if (minor === 0) {
          names.pop();
          values.pop();
        }
        break;
      case 'host':
        if (++hosts > 1) return bad('more than one Host header field');
        if (!isHostValue(value)) return bad(`Host "${value.slice(0, 100)}" is not a host[:port]`);
        break;
    }
    pos = end + 2;
  }

  if (hosts === 0 && minor === 1) return bad('an HTTP/1.1 request needs a Host header field');
  let contentLength = -1;
  let chunked = false;
  if (te !== undefined) {
    if (length !== undefined)
      return bad('both Transfer-Encoding and Content-Length: refusing an ambiguous body');
    if (te.toLowerCase() !== 'chunked')
      return bad(`Transfer-Encoding "${te}" is not supported; only "chunked" is`);
    if (minor === 0) return bad('Transfer-Encoding in an HTTP/1.0 request');
    chunked = true;
  } else if (length !== undefined) {
    const plain = lengths === undefined ? plainDecimal(length) : -1;
    const n = plain >= 0 ? plain : parseContentLength(lengths ?? [length]);
    if (typeof n !== 'number') return n;
    contentLength = n;
  }
  return {
    method,
    path: target.path,
    query: target.query,
    minor,
    names,
    values,
    contentLength,
    chunked,
    keepAlive,
    expectContinue,
  };
}
