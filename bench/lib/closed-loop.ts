/**
 * A closed-loop load over raw sockets for the instruction-count benches (http-count, resp-count):
 * exactly `count` requests over `connections` connections, one in flight per connection, so a
 * callgrind window holds a known number of requests. With `started` and `finished`, the window
 * holds the requests only: every connection is open before `started` runs and the first request
 * is sent, and none is closed before `finished` has run (else the server's socket set-up and
 * tear-down, ~1.4k instructions per request at 5000 requests over 50 connections, are counted as
 * per-request work).
 */
import { connect, type Socket } from 'node:net';

/** ClosedLoop says what to send and where an answer ends. */
export interface ClosedLoop {
  port: number;
  connections: number;
  count: number;
  /** request is the bytes of the i-th request. */
  request(i: number): string;
  /** answerEnd is where the one answer at the start of `buf` ends, or -1 while incomplete; it throws on an error answer. */
  answerEnd(buf: Buffer): number;
  /** what names the load in errors. */
  what: string;
  /** started runs once every connection is open, before the first request is sent. */
  started?: () => void;
  /** finished runs once every request is answered, before any connection is closed. */
  finished?: () => void;
}

/** closedLoop sends `count` requests and resolves when all are answered; rejects on an error answer. */
export async function closedLoop(o: ClosedLoop): Promise<void> {
  let sent = 0;
  let answered = 0;
  const sockets = await Promise.all(
    Array.from(
      { length: o.connections },
      () =>
        new Promise<Socket>((ok, fail) => {
          const s = connect(o.port, '127.0.0.1');
          s.once('connect', () => {
            s.off('error', fail);
            ok(s);
          });
          s.once('error', fail);
        }),
    ),
  );
  o.started?.();
  const one = (s: Socket): Promise<void> =>
    new Promise<void>((done, fail) => {
      let buf: Buffer = Buffer.alloc(0);
      const next = (): void => {
        if (sent >= o.count) {
          done();
          return;
        }
        s.write(o.request(sent++));
      };
      s.on('error', fail);
      s.on('data', (chunk: Buffer) => {
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        try {
          for (let end = o.answerEnd(buf); end > 0; end = o.answerEnd(buf)) {
            buf = buf.subarray(end);
            answered++;
            next();
          }
        } catch (err) {
          s.destroy();
          fail(err instanceof Error ? err : new Error(String(err)));
        }
      });
      next();
    });
  try {
    await Promise.all(sockets.map(one));
    if (answered !== o.count) throw new Error(`${o.what}: ${answered} of ${o.count} answered`);
    o.finished?.();
  } finally {
    for (const s of sockets) s.end();
  }
}
