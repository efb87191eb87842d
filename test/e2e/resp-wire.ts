/**
 * A raw RESP connection for e2e tests: write any bytes (valid or not) to a node's RESP port and
 * read back complete RESP2/RESP3 replies, or see the server close. Used by the resp-hostile and
 * resp-arguments tests, with the two-node process they share (`startRespPair`).
 */
import { connect, type Socket } from 'node:net';
import { freeNodeAddress } from '../helpers/resp.js';
import { startOwnServer } from '../helpers/server-process.js';
import { replyEnd } from '../helpers/resp-conn.js';

/** startRespPair starts one process with nodes A (leaders of two shards, 1 MiB values) and B (their replicas). */
export async function startRespPair(): Promise<{ A: string; B: string; stop: () => Promise<void> }> {
  const A = await freeNodeAddress();
  const B = await freeNodeAddress();
  const { stop } = await startOwnServer(
    [0, 1].map(() => ({ address: A, replicas: [B] })),
    '[server]\nmax_value_bytes = 1048576\n',
    ['--workers', '1'],
  );
  return { A, B, stop };
}

// replyEnd is the raw connection helper's (test/helpers/resp-conn.ts), shared with the tests
// that talk to redis-server.
export { replyEnd };

/** splitReplies cuts the text of several replies into one string per reply. */
export function splitReplies(text: string): string[] {
  const b = Buffer.from(text, 'latin1');
  const out: string[] = [];
  for (let p = 0; p < b.length;) {
    const end = replyEnd(b, p);
    out.push(b.toString('latin1', p, end));
    p = end;
  }
  return out;
}

/**
 * Wire is a raw connection to a RESP port that collects replies as they come. What arrives is
 * appended into spare room that doubles when full, so a reply of tens of MiB in 64 KiB reads costs
 * a copy of each byte about twice: joining the whole so far at every read (as before) copied
 * gigabytes for a 40 MiB MGET, and under load that reply was not all read within 60 s.
 */
export class Wire {
  readonly socket: Socket;
  // bytes received (while `keep`): the first `length` bytes of `store`
  private store: Buffer = Buffer.alloc(0);
  private length = 0;
  /** keep is false while only `count` and the last MiB (`tail`) are kept (huge replies). */
  keep = true;
  tail: Buffer[] = [];
  tailBytes = 0;
  count = 0;
  closed = false;
  private waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.count += d.length;
      if (this.keep) this.append(d);
      else {
        this.tail.push(d);
        this.tailBytes += d.length;
        while (this.tailBytes - this.tail[0]!.length >= 1 << 20) this.tailBytes -= this.tail.shift()!.length;
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  /** open connects to `host:port`. */
  static open({ host, port }: { host: string; port: number }): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const s = connect(port, host, () => {
        resolve(new Wire(s));
      });
      s.once('error', reject);
    });
  }

  /**
   * received is every byte received while `keep`: a view, not copied, that stays as it is while
   * more arrives (read it again to see those). Setting it starts over from those bytes.
   */
  get received(): Buffer {
    return this.store.subarray(0, this.length);
  }

  set received(bytes: Buffer) {
    this.store = bytes;
    this.length = bytes.length;
  }

  /** replies waits (up to `ms`) for `n` complete replies, or for the close, and returns the replies' text. */
  async replies(n: number, ms = 60000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const received = this.received;
      let at = 0;
      let count = 0;
      while (count < n && at < received.length) {
        const end = replyEnd(received, at);
        if (end < 0) break;
        at = end;
        count++;
      }
      if (count >= n || this.closed || Date.now() > deadline) return received.toString('latin1', 0, at);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** closedWithin resolves whether the server closed the connection within `ms`. */
  async closedWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }

  private append(d: Buffer): void {
    const need = this.length + d.length;
    if (need > this.store.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, 2 * this.store.length, 64 * 1024));
      this.store.copy(grown, 0, 0, this.length);
      this.store = grown;
    }
    d.copy(this.store, this.length);
    this.length = need;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** encode writes a command as a RESP array of bulk strings. */
export function encode(args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(a);
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** exchange sends `commands` on a new connection to `at` and returns the text of `n` replies (default one per command). */
export async function exchange(
  at: { host: string; port: number },
  commands: (string | Buffer)[][],
  n = commands.length,
): Promise<string> {
  const w = await Wire.open(at);
  try {
    w.socket.write(Buffer.concat(commands.map(encode)));
    return await w.replies(n);
  } finally {
    w.close();
  }
}
