/**
 * Raw HTTP over a TCP socket, for requests fetch() refuses to send (invalid bytes in the URL, a body
 * cut off mid-way) and for reading exactly what the server wrote.
 */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** RawResponse is a parsed HTTP/1.1 response. */
export interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** parseRaw parses the first response in `text`. */
export function parseRaw(text: string): RawResponse {
  const end = text.indexOf('\r\n\r\n');
  const head = text.slice(0, end).split('\r\n');
  const status = Number(head[0]?.split(' ')[1]);
  const headers = new Map(
    head
      .slice(1)
      .map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()] as const),
  );
  return { status, headers, body: text.slice(end + 4) };
}

/**
 * rawRequest sends bytes and collects what comes back until the server closes, `idleMs` passes
 * with nothing new, or what came back satisfies `until` (a test that knows how many answers it
 * waits for should say so: an idle limit alone cuts a slow answer off on a loaded machine).
 */
export function rawRequest(
  port: number,
  data: Buffer | string,
  options: {
    host?: string;
    idleMs?: number;
    destroyAfterWrite?: boolean;
    until?: (received: string) => boolean;
    /** written is called once the bytes are handed to the kernel (a paused server reads them when it resumes). */
    written?: () => void;
  } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, options.host ?? '127.0.0.1');
    let out = '';
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(out);
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(done, options.idleMs ?? 300);
    };
    sock.on('connect', () => {
      sock.write(data, () => {
        options.written?.();
        if (options.destroyAfterWrite === true) done();
        else arm();
      });
    });
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      out += d;
      if (options.until?.(out) === true) done();
      else arm();
    });
    sock.on('end', done);
    sock.on('error', (err) => {
      clearTimeout(timer);
      if (out !== '') resolve(out);
      else reject(err);
    });
  });
}

/**
 * readPaused resumes a socket that was kept paused (nothing read yet) and collects what it reads
 * until `bytes` arrived and `complete` (when given) holds for what arrived, or `timeoutMs` passed;
 * the caller checks the length. `bytes` alone fits an answer of known size: answers with heads
 * arrive a little later than their bodies' total, so give `complete` for those.
 */
export async function readPaused(
  sock: Socket,
  bytes: number,
  timeoutMs = 60000,
  complete?: (received: Buffer) => boolean,
): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  sock.on('data', (d: Buffer) => {
    parts.push(d);
    got += d.length;
  });
  sock.resume();
  const deadline = Date.now() + timeoutMs;
  const done = (): boolean => got >= bytes && (complete === undefined || complete(Buffer.concat(parts)));
  while (!done() && Date.now() < deadline) await sleep(20);
  return Buffer.concat(parts);
}

/**
 * dechunk is the body of a chunked response in `raw` (head included), as far as it has arrived
 * whole: the chunks complete so far, decoded as UTF-8.
 */
export function dechunk(raw: Buffer): string {
  const text = raw.toString('latin1');
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  let out = '';
  for (let at = 0; at < body.length;) {
    const nl = body.indexOf('\r\n', at);
    if (nl < 0) break;
    const size = parseInt(body.slice(at, nl), 16);
    if (Number.isNaN(size) || size === 0 || nl + 2 + size > body.length) break;
    out += body.slice(nl + 2, nl + 2 + size);
    at = nl + 2 + size + 2;
  }
  return Buffer.from(out, 'latin1').toString('utf8');
}
