/**
 * A raw HTTP/1.1 client for the pipelining tests: send bytes on one socket, read back every
 * response (Content-Length, chunked, bodiless, or up to the close), and note whether the server
 * closed. Every wait is bounded.
 */
import { connect, type Socket } from 'node:net';

/** WireResponse is one response read off the socket. */
export interface WireResponse {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

/** WireResult: the responses read in order, whether the server closed, and bytes left unparsed. */
export interface WireResult {
  responses: WireResponse[];
  closed: boolean;
  rest: Buffer;
}

/**
 * parseResponses parses the complete responses at the start of `buf`. `isHead(i)` says whether
 * the i-th final response answers a HEAD request (no body). `eof` lets a response without framing end at the close.
 */
export function parseResponses(buf: Buffer, isHead: (i: number) => boolean, eof: boolean): WireResult {
  const responses: WireResponse[] = [];
  let pos = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', pos);
    if (end < 0) break;
    const lines = buf.toString('latin1', pos, end).split('\r\n');
    const status = Number(lines[0]?.split(' ')[1]);
    const headers = new Map<string, string>();
    for (const l of lines.slice(1)) {
      const c = l.indexOf(':');
      headers.set(l.slice(0, c).toLowerCase(), l.slice(c + 1).trim());
    }
    let p = end + 4;
    let body: Buffer;
    if (status < 200) {
      pos = p;
      continue; // an interim response (100 Continue) is not counted
    }
    if (isHead(responses.length) || status === 204 || status === 304) body = Buffer.alloc(0);
    else if (headers.get('transfer-encoding') === 'chunked') {
      const parts: Buffer[] = [];
      let complete = false;
      for (;;) {
        const le = buf.indexOf('\r\n', p);
        if (le < 0) break;
        const size = parseInt(buf.toString('latin1', p, le), 16);
        if (size === 0) {
          const te = buf.indexOf('\r\n', le + 2);
          if (te < 0) break;
          p = te + 2;
          complete = true;
          break;
        }
        if (buf.length < le + 2 + size + 2) break;
        parts.push(buf.subarray(le + 2, le + 2 + size));
        p = le + 2 + size + 2;
      }
      if (!complete) break;
      body = Buffer.concat(parts);
    } else if (headers.has('content-length')) {
      const n = Number(headers.get('content-length'));
      if (buf.length < p + n) break;
      body = buf.subarray(p, p + n);
      p += n;
    } else {
      if (!eof) break;
      body = buf.subarray(p);
      p = buf.length;
    }
    responses.push({ status, headers, body });
    pos = p;
  }
  return { responses, closed: eof, rest: buf.subarray(pos) };
}

/** ExchangeOptions: wait for `count` responses (or the close), at most `timeoutMs`. */
export interface ExchangeOptions {
  count: number;
  timeoutMs?: number;
  host?: string;
  /** isHead says which responses answer HEAD requests. */
  isHead?: (i: number) => boolean;
  /** halfClose ends the client's side after writing. */
  halfClose?: boolean;
  /** linger: after `count` responses, wait this long for the server to close (to see whether it does). */
  lingerMs?: number;
}

/**
 * exchange writes `data` (a list is written piece by piece, each in its own write) and resolves
 * once `count` responses arrived and the linger passed, or the server closed, or the timeout hit.
 */
export function exchange(
  port: number,
  data: string | Buffer | (string | Buffer)[],
  options: ExchangeOptions,
): Promise<WireResult> {
  const isHead = options.isHead ?? ((): boolean => false);
  return new Promise((resolve, reject) => {
    const sock: Socket = connect(port, options.host ?? '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    let linger: NodeJS.Timeout | undefined;
    const finish = (eof: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(linger);
      sock.destroy();
      resolve(parseResponses(Buffer.concat(chunks), isHead, eof));
    };
    const timer = setTimeout(() => {
      finish(false);
    }, options.timeoutMs ?? 10000);
    sock.on('connect', () => {
      const pieces = Array.isArray(data) ? data : [data];
      for (const p of pieces) sock.write(p);
      if (options.halfClose === true) sock.end();
    });
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      if (linger !== undefined) return;
      const r = parseResponses(Buffer.concat(chunks), isHead, false);
      if (r.responses.length >= options.count) {
        if ((options.lingerMs ?? 0) === 0) finish(false);
        else
          linger = setTimeout(() => {
            finish(false);
          }, options.lingerMs);
      }
    });
    sock.on('end', () => {
      finish(true);
    });
    sock.on('close', () => {
      finish(true);
    });
    sock.on('error', (err) => {
      if (chunks.length > 0) finish(true);
      else if (!settled) {
        settled = true;
        clearTimeout(timer);
        reject(err);
      }
    });
  });
}
