/**
 * DirectWriter (src/server/direct-write.ts) writes through a socket's handle: these tests check
 * what `socket.write` guaranteed still holds: bytes arrive whole and in order (also behind bytes
 * still in the stream), the bytes of a write the kernel could not take at once stay alive until
 * it completes, back-pressure reports and clears, a TLS socket goes through its stream, and a
 * write to a reset peer closes the socket rather than the process.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DirectWriter } from '../../src/server/direct-write.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { tempDir } from '../helpers/temp-dir.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * pair listens on a free loopback port and returns the server's and the client's side of one
 * connection, closed when the test ends. `unread`: the server side never starts reading.
 */
async function pair(
  t: TestContext,
  unread = false,
): Promise<{ server: Server; accepted: Socket; client: Socket }> {
  let onAccept: (s: Socket) => void = () => undefined;
  const accepted = new Promise<Socket>((resolve) => (onAccept = resolve));
  const server = createServer({ noDelay: true, pauseOnConnect: unread }, (s) => {
    onAccept(s);
  });
  t.after(() => {
    server.close();
    client.destroy();
    void accepted.then((s) => s.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const client = connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => client.once('connect', resolve));
  return { server, accepted: await accepted, client };
}

/** readAll collects `bytes` bytes from `client`, reading `slowly` in bursts with pauses between. */
function readAll(client: Socket, bytes: number, slowly: boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    let sinceRest = 0;
    client.on('data', (d: Buffer) => {
      parts.push(d);
      got += d.length;
      sinceRest += d.length;
      if (got >= bytes) resolve(Buffer.concat(parts));
      else if (slowly && sinceRest > 512 * 1024) {
        sinceRest = 0;
        client.pause();
        setTimeout(() => client.resume(), 20);
      }
    });
    client.on('error', reject);
    client.on('close', () => {
      if (got < bytes) reject(new Error(`closed after ${got} of ${bytes} bytes`));
    });
  });
}

/** pattern is `n` bytes that differ by position (a misplaced or freed byte shows). */
function pattern(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

describe('DirectWriter', () => {
  it('delivers pipelined replies of mixed sizes whole and in order, counted in bytesWritten', async (t) => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    const { accepted, client } = await pair(t);
    const w = new DirectWriter(accepted, () => undefined);
    client.pause(); // the kernel buffers fill: some writes go async, later ones queue behind them
    const expected: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const head = `#${i}:`;
      const body = pattern(Math.floor(rnd() * (rnd() < 0.1 ? 400_000 : 2000)), i);
      expected.push(Buffer.from(head), body);
      if (i % 3 === 0) w.writev([head, body]);
      else {
        w.write(head);
        w.write(body);
      }
    }
    const total = expected.reduce((n, b) => n + b.length, 0);
    const got = readAll(client, total, true);
    client.resume();
    assert.ok((await got).equals(Buffer.concat(expected)), `DISTKV_SEED=${seed}`);
    assert.equal(accepted.bytesWritten, total);
  });

  it('writes behind bytes still held by the stream (corked) rather than ahead of them', async (t) => {
    const { accepted, client } = await pair(t);
    const w = new DirectWriter(accepted, () => undefined);
    const got = readAll(client, 6, false);
    accepted.cork();
    accepted.write('one,');
    w.write('two');
    accepted.uncork();
    assert.equal((await got).toString(), 'one,two');
  });

  it('keeps the bytes of a write the kernel could not take until it completes (8 MiB, slow reader)', async (t) => {
    const { accepted, client } = await pair(t);
    let drained = 0;
    const w = new DirectWriter(accepted, () => drained++);
    client.pause();
    const size = 8 * 1024 * 1024;
    // The writer holds the only reference to the buffer: a collected buffer would be sent as freed memory.
    const ok = w.write(pattern(size, 7));
    assert.equal(ok, false, 'an 8 MiB write to a paused reader reports back-pressure');
    assert.equal(w.needDrain, true);
    assert.equal(w.retained, true);
    assert.ok(w.unsent > 0 && w.unsent <= size, `unsent ${w.unsent}`);
    for (let i = 0; i < 5; i++) {
      gc();
      await sleep(10);
    }
    const got = readAll(client, size, true);
    client.resume();
    assert.ok((await got).equals(pattern(size, 7)));
    for (let i = 0; i < 500 && drained === 0; i++) await sleep(10);
    assert.equal(drained, 1, 'onDrain runs once every byte is out');
    assert.equal(w.needDrain, false);
    assert.equal(w.unsent, 0);
    assert.equal(w.write('x'), true);
    assert.equal(w.retained, false, 'a write the kernel took at once leaves its bytes free');
  });

  it('writes a TLS socket through its stream (the handle encrypts)', async (t) => {
    const dir = tempDir((fn) => {
      t.after(fn);
    }, 'distkv-direct-write-');
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-keyout',
          'k.pem',
          '-out',
          'c.pem',
          '-days',
          '1',
          '-subj',
          '/CN=localhost',
        ],
        { cwd: dir, stdio: 'pipe' },
      );
    } catch {
      t.skip('openssl is not installed');
      return;
    }
    let streamWrites = 0;
    const size = 3 * 1024 * 1024;
    const server = createTlsServer(
      { cert: readFileSync(join(dir, 'c.pem')), key: readFileSync(join(dir, 'k.pem')) },
      (s) => {
        const write = s.write.bind(s);
        s.write = (d: Uint8Array | string): boolean => {
          streamWrites++;
          return write(d);
        };
        const w = new DirectWriter(s, () => undefined);
        w.write('head:');
        w.writev([pattern(size, 3), ':tail']);
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const client = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false });
    t.after(() => {
      client.destroy();
      server.close();
    });
    const got = await readAll(client, size + 10, true);
    assert.ok(got.equals(Buffer.concat([Buffer.from('head:'), pattern(size, 3), Buffer.from(':tail')])));
    assert.ok(streamWrites >= 3, `writes through the stream: ${streamWrites}`);
  });

  it('closes the socket, not the process, when the peer reset the connection', async (t) => {
    const { accepted, client } = await pair(t, true); // not reading: the write meets the reset
    const errors: NodeJS.ErrnoException[] = [];
    accepted.on('error', (err: NodeJS.ErrnoException) => errors.push(err));
    const closed = new Promise((resolve) => accepted.once('close', resolve));
    let drained = 0;
    const w = new DirectWriter(accepted, () => drained++);
    client.resetAndDestroy();
    await sleep(50);
    assert.equal(w.write(pattern(100_000, 1)), false);
    await closed;
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.syscall, 'write');
    assert.ok(['EPIPE', 'ECONNRESET'].includes(errors[0]!.code ?? ''), errors[0]!.code);
    assert.equal(w.write('after'), false, 'a write to the closed socket is dropped');
    assert.equal(drained, 0);
  });

  it('closes the socket when a queued write fails after the peer reset it', async (t) => {
    const { accepted, client } = await pair(t, true);
    const errors: NodeJS.ErrnoException[] = [];
    accepted.on('error', (err: NodeJS.ErrnoException) => errors.push(err));
    const closed = new Promise((resolve) => accepted.once('close', resolve));
    const w = new DirectWriter(accepted, () => undefined);
    client.pause();
    assert.equal(w.write(pattern(16 * 1024 * 1024, 2)), false, 'queued behind a full kernel buffer');
    client.resetAndDestroy();
    await closed;
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.syscall, 'write');
  });
});
