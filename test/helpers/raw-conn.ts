/**
 * A raw TCP connection for e2e tests that watch what a server sends and when it closes: the text
 * received so far (latin1) and whether the server ended or closed it; `until` polls a condition
 * within a bound.
 */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** RawConn is a raw connection with what it received and whether the server closed it. */
export interface RawConn {
  sock: Socket;
  text: () => string;
  closed: () => boolean;
}

/** openRaw connects to `host`:`port`. */
export function openRaw(port: number, host = '127.0.0.1'): Promise<RawConn> {
  return new Promise((resolve, reject) => {
    let text = '';
    let closed = false;
    const sock = connect(port, host, () => {
      resolve({ sock, text: () => text, closed: () => closed });
    });
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => (text += d));
    sock.on('end', () => (closed = true));
    sock.on('close', () => (closed = true));
    sock.on('error', () => undefined);
    sock.once('error', reject);
  });
}

/** until waits for `done`, at most `ms`. */
export async function until(done: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await sleep(10);
}
