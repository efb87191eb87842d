/**
 * Wire protocols the load generator speaks on its raw keep-alive connections: HTTP/1.1 (distkv's
 * REST API and the bare baseline) and RESP (redis-server). Each encodes a GET or SET request into
 * one buffer and parses a stream of responses into status codes: HTTP statuses as they are, RESP
 * mapped to 200 (value or +OK), 404 (nil), and for errors to what HTTP would answer (respErrorStatus):
 * 307 (-MOVED, -ASK: a redirect to the node owning the key, which raw connections do not follow),
 * 503 (-TRYAGAIN, -CLUSTERDOWN, -LOADING: try again later) and 500 (any other error). Only what a
 * benchmark needs: HTTP bodies must have a Content-Length (chunked responses are a protocol error).
 */

/** ResponseParser consumes response bytes and reports each complete response's status. */
export interface ResponseParser {
  /** feed parses `chunk`, calling `onResponse` once per complete response; throws on garbage. */
  feed(chunk: Buffer, onResponse: (status: number) => void): void;
}

/** Wire builds requests and parsers for one protocol. */
export interface Wire {
  readonly name: 'http' | 'redis';
  get(key: string): Buffer;
  set(key: string, value: Buffer): Buffer;
  del(key: string): Buffer;
  parser(): ResponseParser;
}

/** httpWire speaks HTTP/1.1 to `/kv/{key}` on `host` (the Host header). */
export function httpWire(host: string): Wire {
  const head = (method: string, key: string, length: number): string =>
    `${method} /kv/${encodeURIComponent(key)} HTTP/1.1\r\nHost: ${host}\r\n${
      length >= 0 ? `Content-Length: ${length}\r\n` : ''
    }\r\n`;
  return {
    name: 'http',
    get: (key) => Buffer.from(head('GET', key, -1), 'latin1'),
    set: (key, value) => Buffer.concat([Buffer.from(head('PUT', key, value.length), 'latin1'), value]),
    del: (key) => Buffer.from(head('DELETE', key, -1), 'latin1'),
    parser: () => new HttpParser(),
  };
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const LENGTH = Buffer.from('ength:');
const TRANSFER = Buffer.from('ransfer-');

/** contentLength reads the Content-Length of the header block data[0..end) (any letter case of "Content-"). */
function contentLength(data: Buffer, end: number): number {
  const at = data.indexOf(LENGTH);
  if (at < 0 || at > end) {
    const te = data.indexOf(TRANSFER);
    if (te >= 0 && te < end) throw new Error('chunked responses are not supported');
    return 0;
  }
  let i = at + LENGTH.length;
  while (data[i] === 0x20) i++;
  let n = 0;
  for (let c = data[i]!; c >= 48 && c <= 57; c = data[++i]!) n = n * 10 + c - 48;
  return n;
}

/** HttpParser parses HTTP/1.1 responses with Content-Length bodies. */
export class HttpParser implements ResponseParser {
  private buf: Buffer = Buffer.alloc(0);
  /** skip is how many body bytes of the response `status` are still to come. */
  private skip = 0;
  private status = 0;

  feed(chunk: Buffer, onResponse: (status: number) => void): void {
    let data = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, data.length);
        this.skip -= n;
        data = data.subarray(n);
        if (this.skip > 0) break;
        onResponse(this.status);
        continue;
      }
      const end = data.indexOf(CRLFCRLF);
      if (end < 0) break;
      // "HTTP/1.1 200" — the status is bytes 9..11.
      if (data[0] !== 0x48 || data[5] !== 0x31)
        throw new Error(`not an HTTP response: ${data.toString('latin1', 0, Math.min(end, 40))}`);
      this.status = (data[9]! - 48) * 100 + (data[10]! - 48) * 10 + (data[11]! - 48);
      this.skip = contentLength(data, end);
      data = data.subarray(end + 4);
      if (this.skip === 0) onResponse(this.status);
    }
    this.buf = data.length === 0 ? Buffer.alloc(0) : Buffer.from(data);
  }
}

/** redisWire speaks RESP (GET, SET, DEL). */
export function redisWire(): Wire {
  const cmd = (...parts: (string | Buffer)[]): Buffer => {
    const chunks: Buffer[] = [Buffer.from(`*${parts.length}\r\n`)];
    for (const p of parts) {
      const b = typeof p === 'string' ? Buffer.from(p) : p;
      chunks.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
    }
    return Buffer.concat(chunks);
  };
  return {
    name: 'redis',
    get: (key) => cmd('GET', key),
    set: (key, value) => cmd('SET', key, value),
    del: (key) => cmd('DEL', key),
    parser: () => new RespParser(),
  };
}

/** RespParser parses RESP2 replies of GET/SET/DEL (simple strings, errors, integers, bulk strings). */
export class RespParser implements ResponseParser {
  private buf: Buffer = Buffer.alloc(0);

  feed(chunk: Buffer, onResponse: (status: number) => void): void {
    let data = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      const eol = data.indexOf('\r\n');
      if (eol < 0) break;
      const type = data[0];
      if (type === 0x24 /* $ */) {
        const len = Number(data.toString('latin1', 1, eol));
        if (len < 0) {
          data = data.subarray(eol + 2);
          onResponse(404);
          continue;
        }
        if (data.length < eol + 2 + len + 2) break;
        data = data.subarray(eol + 2 + len + 2);
        onResponse(200);
        continue;
      }
      const status = type === 0x2d /* - */ ? respErrorStatus(data.subarray(1, eol)) : 200;
      data = data.subarray(eol + 2);
      if (type === 0x2b /* + */ || type === 0x3a /* : */ || type === 0x2d) onResponse(status);
      else throw new Error(`unexpected RESP reply type ${String(type)}`);
    }
    this.buf = data.length === 0 ? Buffer.alloc(0) : Buffer.from(data);
  }
}

/** RETRY_LATER are the RESP error prefixes that HTTP would answer 503: the request may succeed later. */
const RETRY_LATER = ['TRYAGAIN', 'CLUSTERDOWN', 'LOADING'];

/** respErrorStatus is the HTTP status of a RESP error (`message`: the line after "-"; see the file's header). */
export function respErrorStatus(message: Buffer): number {
  const space = message.indexOf(0x20);
  const word = message.toString('latin1', 0, space < 0 ? message.length : space);
  if (word === 'MOVED' || word === 'ASK') return 307;
  return RETRY_LATER.includes(word) ? 503 : 500;
}

/** CACHE_MAX_KEYS bounds RequestCache: larger key spaces encode every request afresh. */
export const CACHE_MAX_KEYS = 200_000;

/** RequestCache keeps the encoded request of each (operation, key index) once built. */
export class RequestCache {
  private readonly wire: Wire;
  private readonly prefix: string;
  private readonly value: Buffer;
  private readonly slots: (Buffer | undefined)[][] | undefined;

  constructor(wire: Wire, prefix: string, keys: number, value: Buffer) {
    this.wire = wire;
    this.prefix = prefix;
    this.value = value;
    this.slots = keys <= CACHE_MAX_KEYS ? [[], [], []] : undefined;
  }

  /** request returns the bytes of operation `op` (0 get, 1 set, 2 del) on key index `k`. */
  request(op: number, k: number): Buffer {
    const cached = this.slots?.[op]![k];
    if (cached !== undefined) return cached;
    const key = `${this.prefix}${k}`;
    const b = op === 0 ? this.wire.get(key) : op === 1 ? this.wire.set(key, this.value) : this.wire.del(key);
    if (this.slots !== undefined) this.slots[op]![k] = b;
    return b;
  }
}
