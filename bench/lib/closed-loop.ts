/**
 * A closed-loop load over raw sockets for the instruction-count benches (http-count, resp-count):
 * exactly `count` requests over `connections` connections, one in flight per connection, so a
 * callgrind window holds a known number of requests.
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
}

/** closedLoop sends `count` requests and resolves when all are answered; rejects on an error answer. */
export async function closedLoop(o: ClosedLoop): Promise<void> {
  let sent = 0;
  let answered = 0;
  const one = (): Promise<void> =>
    new Promise<void>((done, fail) => {
      const s: Socket = connect(o.port, '127.0.0.1');
      let buf: Buffer = Buffer.alloc(0);
      const next = (): void => {
        if (sent >= o.count) {
          s.end();
          done();
          return;
        }
        s.write(o.request(sent++));
      };
      s.on('connect', next);
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
    });
  await Promise.all(Array.from({ length: o.connections }, one));
  if (answered !== o.count) throw new Error(`${o.what}: ${answered} of ${o.count} answered`);
}
