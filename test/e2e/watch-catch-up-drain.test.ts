/**
 * A watcher catching up from the log to a client that reads slowly (docs/watch.md, "Slow
 * watchers"): once its backlog is large it waits for the socket to drain, and when it drains the
 * catch-up goes on, to the end of the log. The flush that writes such a backlog fills the socket
 * itself; the wait must end when that drains too (gathered-writes.ts). Over a WebSocket: an SSE
 * response's write is handed to the socket later in the turn, so it never reports the socket full.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { freePort } from '../helpers/ports.js';
import { startOneNode, startOwnServer } from '../helpers/server-process.js';

const VALUE = 'v'.repeat(64 * 1024);
const KEYS = 400;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Occurrences counts a string in a byte stream as it arrives (keeping only a needle's length of it). */
class Occurrences {
  n = 0;
  private carry = Buffer.alloc(0);
  private readonly needle: string;

  constructor(needle: string) {
    this.needle = needle;
  }

  push(chunk: Buffer): void {
    const b = Buffer.concat([this.carry, chunk]);
    for (let at = b.indexOf(this.needle); at >= 0; at = b.indexOf(this.needle, at + 1)) this.n++;
    this.carry = b.subarray(Math.max(0, b.length - this.needle.length + 1));
  }
}

/** writeKeys writes the KEYS keys cu/0.. of VALUE, 8 at a time. */
async function writeKeys(address: string): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < KEYS) {
        const i = next++;
        const r = await fetch(`http://${address}/kv/cu/${i}`, { method: 'PUT', body: VALUE });
        assert.equal(r.status, 204);
      }
    }),
  );
}

describe('watch catch-up to a slow reader', () => {
  it('goes on to the end of the log once the client reads again', async () => {
    const own = await startOneNode('[storage]\ndurability = "none"\n', [
      '--workers',
      '1',
      '--log-level',
      'warn',
    ]);
    const { address, port } = own;
    try {
      await writeKeys(address);
      // The client asks for the whole log and does not read for a while: the catch-up fills the
      // socket, then its backlog passes half of max_buffer_bytes (4 MiB of some 26 MiB of events),
      // and the write of that backlog, after a drain, fills the socket again.
      const socket: Socket = connect(port, '127.0.0.1');
      const puts = new Occurrences('"type":"put"');
      const resumes = new Occurrences('"type":"resume"');
      socket.on('data', (d: Buffer) => {
        puts.push(d);
        resumes.push(d);
      });
      // A WebSocket: its session writes straight to the socket, so a large write can fill it.
      socket.write(
        'GET /watch?prefix=cu/&from=0.0&max_buffer_bytes=8388608 HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n' +
          'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      socket.pause();
      await sleep(1500);
      // Then it reads slowly: a little now and then, so the socket fills again after each drain.
      const deadline = Date.now() + 30000;
      while (puts.n < KEYS && Date.now() < deadline) {
        socket.resume();
        await sleep(5);
        socket.pause();
        await sleep(45);
      }
      socket.destroy();
      assert.equal(resumes.n, 0, 'the stream was not cut');
      assert.equal(puts.n, KEYS, 'every write in the log reached the client');
    } finally {
      await own.stop();
    }
  });

  it('keeps what waits for an SSE client that does not read near max_buffer_bytes', async () => {
    // An SSE response reports its socket full only from the write after the one that filled it
    // (handed to the socket at the end of the turn), and the catch-up counted only what waited
    // for a full socket: everything it read within a gather window (5 ms) went out as one
    // write, and a client that read nothing had some 16 MiB of the log's 26 waiting for it in
    // the process (distkv_unsent_bytes), whatever its max_buffer_bytes (1 MiB by default).
    // Four shards on the node: their catch-ups read the log together, each into the same stream.
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const own = await startOwnServer(
      Array.from({ length: 4 }, () => ({ address })),
      '[storage]\ndurability = "none"\n',
      ['--workers', '1', '--log-level', 'warn'],
    );
    try {
      await writeKeys(address);
      const socket: Socket = connect(port, '127.0.0.1');
      let received = 0;
      socket.on('data', (d: Buffer) => (received += d.length));
      socket.write('GET /watch?prefix=cu/&from=0.0 HTTP/1.1\r\nHost: t\r\n\r\n');
      socket.pause();
      // Whatever the catch-up will queue, it queues within a few reads of the log: watch it for 3 s.
      let most = 0;
      const until = Date.now() + 3000;
      while (Date.now() < until) {
        const text = await (await fetch(`http://${address}/metrics`)).text();
        const m = /^distkv_unsent_bytes (\d+)$/m.exec(text);
        most = Math.max(most, Number(m?.[1] ?? 0));
        await sleep(20);
      }
      socket.destroy();
      assert.ok(received > 0 || most > 0, 'the stream started');
      assert.ok(
        most <= 4 * 1024 * 1024,
        `${most} bytes waited in the process for a client that reads nothing`,
      );
    } finally {
      await own.stop();
    }
  });
});
