/**
 * The request-head parser as it was before its fast paths (src/http/http1-head.ts: the known
 * header names, the " HTTP/1.1" request line and the one-pass target scan), kept unchanged as the
 * oracle of test/unit/http1-head-model.test.ts: the parser must stay exactly this strict. Changed
 * since only where the parser's rules changed (marked with their session).
 */

// session 55: the request line's refusal says what a request line is
const MALFORMED_LINE =
  'malformed request line: expected a method, a target and HTTP/1.1, one space apart (as "GET /kv/a HTTP/1.1")';

/** MAX_URL_BYTES bounds the request target (path and query); over it the answer is 414. */
const MAX_URL_BYTES = 32 * 1024;

/** RequestHead is a parsed, validated request head. */
interface RequestHead {
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
interface HeadError {
  status: 400 | 414 | 417 | 431 | 501; // session 56: 417, 501
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
 * parseContentLength reads every Content-Length value (each possibly a comma list): the length,
 * or a HeadError when one is not a decimal number or two differ.
 */
function parseContentLength(values: readonly string[]): number | HeadError {
  if (values.length === 1) {
    const n = plainDecimal(values[0]!);
    if (n >= 0) return n;
  }
  // session 64: digits beyond a safe integer read as Number.MAX_SAFE_INTEGER (over every limit: 413);
  // lengths compare exactly, as BigInts.
  let length: bigint | undefined;
  for (const value of values) {
    for (const part of value.split(',')) {
      const text = owsTrim(part);
      if (!/^\d+$/.test(text)) return bad(`Content-Length "${value}" is not a decimal number of bytes`);
      const n = BigInt(text);
      const show = (b: bigint): string => {
        const t = b.toString();
        return t.length > 40 ? `${t.slice(0, 40)}...` : t;
      };
      if (length !== undefined && n !== length)
        return bad(
          `conflicting Content-Length values ${show(length)} and ${show(n)}: refusing an ambiguous body`,
        );
      length = n;
    }
  }
  if (length === undefined) return -1;
  return length >= 10n ** 15n ? Number.MAX_SAFE_INTEGER : Number(length);
}

/** plainDecimal reads a value of 1 to 15 ASCII digits and nothing else (the usual Content-Length), else -1. */
function plainDecimal(value: string): number {
  const len = value.length;
  if (len === 0 || len > 15) return -1;
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
  let high = false;
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 0x20) return bad('request target has a space (send it as %20)');
    if (c < 0x20 || c === 0x7f) return bad('request target has a control character');
    if (c > 0x7f) high = true;
  }
  // Bytes over 0x7F are not allowed by RFC 3986, but seed clients send raw UTF-8: decode it, and let
  // the key checks refuse what is not valid UTF-8 (it becomes U+FFFD here).
  const hash = target.indexOf('#');
  if (hash >= 0) target = target.slice(0, hash);
  if (high && /[\x80-\xff]/.test(target)) target = Buffer.from(target, 'latin1').toString('utf8');
  const q = target.indexOf('?');
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

/** parseHead parses a request head (everything before the blank line, as latin1). */
export function referenceParseHead(head: string): RequestHead | HeadError {
  // session 56: a method longer than OPTIONS, the longest distkv implements, is 501
  if (/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{8}/.test(head))
    return {
      status: 501,
      message:
        'request method is longer than 7 bytes: not implemented; distkv implements GET, HEAD, PUT, POST, DELETE, OPTIONS',
    };
  let lineEnd = head.indexOf('\r\n');
  if (lineEnd < 0) lineEnd = head.length;
  const sp1 = head.indexOf(' ');
  const sp2 = head.lastIndexOf(' ', lineEnd - 1);
  if (sp1 <= 0 || sp2 <= sp1 || sp2 > lineEnd) return bad(MALFORMED_LINE);
  if (sp2 - sp1 - 1 > MAX_URL_BYTES)
    return { status: 414, message: `request target is over ${MAX_URL_BYTES} bytes` };
  const method = knownMethod(head, sp1) ?? head.slice(0, sp1);
  if (!isToken(method)) return bad('malformed request method');
  const version = head.slice(sp2 + 1, lineEnd);
  let minor: number;
  if (version === 'HTTP/1.1') minor = 1;
  else if (version === 'HTTP/1.0') minor = 0;
  else if (version === '')
    return bad(MALFORMED_LINE); // session 55
  else return bad(`unsupported protocol "${version.slice(0, 20)}"; this server speaks HTTP/1.1 and 1.0`);
  // session 55: a space too many around the target
  if (head.charCodeAt(sp1 + 1) === 0x20 || head.charCodeAt(sp2 - 1) === 0x20) return bad(MALFORMED_LINE);
  const target = parseTarget(head.slice(sp1 + 1, sp2));
  if ('status' in target) return target;
  if (target.path === '*' && method !== 'OPTIONS')
    return bad(`the target * is for OPTIONS only, not ${method}`);

  const names: string[] = [];
  const values: string[] = [];
  let lengths: string[] | undefined;
  let te: string | undefined;
  let keepAlive = minor === 1;
  let expectContinue = false;
  let hosts = 0;
  let pos = lineEnd + 2;
  while (pos < head.length) {
    let end = head.indexOf('\r\n', pos);
    if (end < 0) end = head.length;
    const first = head.charCodeAt(pos);
    if (first === 0x20 || first === 0x09) return bad('obsolete line folding in a header field');
    const colon = head.indexOf(':', pos);
    if (colon < 0 || colon > end) return bad('header field without a colon');
    const name = head.slice(pos, colon).toLowerCase();
    if (!isToken(name)) return bad(`malformed header field name "${name.slice(0, 40)}"`);
    const value = fieldValue(head, colon + 1, end);
    if (value === undefined) return bad(`header field ${name} has a forbidden character`);
    names.push(name);
    values.push(value);
    switch (name) {
      case 'content-length':
        (lengths ??= []).push(value);
        break;
      case 'transfer-encoding':
        te = te === undefined ? value : `${te}, ${value}`;
        break;
      case 'connection':
        if (hasToken(value, 'close')) keepAlive = false;
        else if (minor === 0 && hasToken(value, 'keep-alive')) keepAlive = true;
        break;
      // HTTP/1.0: Expect ignored and Upgrade dropped (RFC 9110 sections 10.1.1 and 7.8; session 55)
      // session 56: a list; a member other than 100-continue is 417
      case 'expect': {
        const members = value
          .split(',')
          .map((m) => m.replace(/^[ \t]+|[ \t]+$/g, '').toLowerCase())
          .filter((m) => m !== '');
        if (members.some((m) => m !== '100-continue'))
          return {
            status: 417,
            message: `Expect "${value.slice(0, 100)}" cannot be met: the only expectation this server knows is 100-continue; send the request without it`,
          };
        if (minor === 1 && members.length > 0) expectContinue = true;
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
    if (lengths !== undefined)
      return bad('both Transfer-Encoding and Content-Length: refusing an ambiguous body');
    if (te.toLowerCase() !== 'chunked')
      return bad(`Transfer-Encoding "${te}" is not supported; only "chunked" is`);
    if (minor === 0) return bad('Transfer-Encoding in an HTTP/1.0 request');
    chunked = true;
  } else if (lengths !== undefined) {
    const n = parseContentLength(lengths);
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
