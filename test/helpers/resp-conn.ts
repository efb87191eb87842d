/**
 * A raw RESP connection that sends pipelines of commands and returns each reply's bytes (as latin1
 * text, so binary replies compare byte for byte). For tests that talk to redis-server and a distkv
 * node alike.
 */
import { connect, type Socket } from 'node:net';

/** replyEnd returns where the RESP2/RESP3 reply at `p` ends, or -1 when it has not all arrived. */
export function replyEnd(b: Buffer, p: number): number {
  if (p >= b.length) return -1;
  const cr = b.indexOf('\r\n', p);
  if (cr < 0) return -1;
  const type = String.fromCharCode(b[p]!);
  const n = Number(b.toString('latin1', p + 1, cr));
  let at = cr + 2;
  if ((type === '$' || type === '=' || type === '!') && n >= 0)
    return at + n + 2 <= b.length ? at + n + 2 : -1;
  if ((type === '*' || type === '%' || type === '~' || type === '>') && n > 0) {
    for (let i = 0; i < (type === '%' ? 2 * n : n); i++) {
      at = replyEnd(b, at);
      if (at < 0) return -1;
    }
  }
  return at;
}

/** encodeCommand writes a command as a RESP array of bulk strings (strings as latin1 bytes). */
export function encodeCommand(args: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.from(a, 'latin1');
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** RespConn is one connection; `send` pipelines commands and resolves with one reply per command. */
export class RespConn {
  private readonly socket: Socket;
  private received: Buffer = Buffer.alloc(0);
  private closed = false;
  private wake: (() => void) | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.received = this.received.length === 0 ? d : Buffer.concat([this.received, d]);
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => undefined);
  }

  /** open connects to `host:port`. */
  static open({ host, port }: { host: string; port: number }): Promise<RespConn> {
    return new Promise((resolve, reject) => {
      const s = connect(port, host, () => {
        s.removeListener('error', reject);
        resolve(new RespConn(s));
      });
      s.once('error', reject);
    });
  }

  /** send writes `commands` at once and returns their replies (latin1 text), failing after `ms` or a close. */
  async send(commands: readonly (readonly string[])[], ms = 30000): Promise<string[]> {
    this.socket.write(Buffer.concat(commands.map(encodeCommand)));
    const deadline = Date.now() + ms;
    const out: string[] = [];
    while (out.length < commands.length) {
      const end = replyEnd(this.received, 0);
      if (end >= 0) {
        out.push(this.received.toString('latin1', 0, end));
        this.received = this.received.subarray(end);
        continue;
      }
      if (this.closed) throw new Error(`connection closed after ${out.length} of ${commands.length} replies`);
      if (Date.now() > deadline)
        throw new Error(`${commands.length - out.length} replies missing after ${ms} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.wake = () => {
          clearTimeout(t);
          this.wake = undefined;
          resolve();
        };
      });
    }
    return out;
  }

  close(): void {
    this.socket.destroy();
  }
}
