/**
 * A watch WebSocket session against hostile clients (src/watch/ws-session.ts, docs/watch.md,
 * "WebSocket"), over a real loopback socket pair: a client that floods pings and never reads the
 * pongs, a close in the middle of a fragmented message, and seeded random garbage frames, which
 * always end the session (with a close frame when one can be sent) and never in an exception.
 */
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WsParser, WsProtocolError } from '../../src/http/websocket-format.js';
import { MAX_CLIENT_MESSAGE, READ_PAUSE_BYTES, WsSession } from '../../src/watch/ws-session.js';
import { seededRandom, testSeed } from '../helpers/random.js';

/** clientFrame builds a masked client frame. */
function clientFrame(op: number, payload: Buffer, fin = true): Buffer {
  const len = payload.length;
  const head =
    len < 126
      ? Buffer.from([(fin ? 0x80 : 0) | op, 0x80 | len])
      : Buffer.from([(fin ? 0x80 : 0) | op, 0x80 | 126, len >> 8, len & 0xff]);
  const mask = Buffer.from([9, 8, 7, 6]);
  return Buffer.concat([head, mask, Buffer.from(payload.map((b, i) => b ^ mask[i & 3]!))]);
}

/** firstClose returns the code of the first close frame in unmasked server bytes, if any. */
function firstClose(data: Buffer): number | undefined {
  for (let at = 0; at + 2 <= data.length;) {
    const op = data[at]! & 0x0f;
    let len = data[at + 1]! & 0x7f;
    let h = 2;
    if (len === 126) {
      len = data.readUInt16BE(at + 2);
      h = 4;
    }
    if (at + h + len > data.length) return undefined;
    if (op === 8) return data.readUInt16BE(at + h);
    at += h + len;
  }
  return undefined;
}

async function until(test: () => boolean, what: string, ms = 10000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('watch WebSocket session against hostile clients', () => {
  let server: Server;
  let port = 0;
  /** sessions are the server sides, in accept order, with whether their session ended. */
  const sessions: { socket: Socket; closed: boolean; session?: WsSession }[] = [];

  before(async () => {
    server = createServer((socket) => {
      // (no 'error' listener here: the session must own its socket's errors, as after an upgrade)
      const s: { socket: Socket; closed: boolean; session?: WsSession } = { socket, closed: false };
      sessions.push(s);
      s.session = new WsSession(socket, Buffer.alloc(0), () => (s.closed = true));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as { port: number }).port;
  });
  after(() => {
    for (const s of sessions) s.socket.destroy();
    server.close();
  });

  async function open(): Promise<{
    client: Socket;
    side: { socket: Socket; closed: boolean; session?: WsSession };
  }> {
    const n = sessions.length;
    const client = connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    await until(() => sessions.length > n, 'the server side');
    return { client, side: sessions[n]! };
  }

  it('buffers a bounded amount for a client that floods pings and never reads the pongs', async () => {
    const { client, side } = await open();
    client.pause();
    const ping = clientFrame(9, Buffer.alloc(125, 0x61));
    const flood = Buffer.concat(Array.from({ length: 256 }, () => ping));
    // 32 MiB of pings: far more than the loopback's socket buffers hold.
    for (let i = 0; i < (32 * 1024 * 1024) / flood.length; i++) client.write(flood);
    // Wait until the server stops taking bytes (it paused, or it read the whole flood).
    let last = -1;
    for (let stable = 0; stable < 5;) {
      await new Promise((r) => setTimeout(r, 100));
      stable = side.socket.bytesRead === last ? stable + 1 : 0;
      last = side.socket.bytesRead;
    }
    const waiting = side.socket.writableLength;
    assert.ok(
      waiting <= READ_PAUSE_BYTES + 64 * 1024,
      `the server holds ${waiting} bytes of pongs for a client that does not read (read ${last} bytes)`,
    );
    // Once the client reads, the server reads again and answers every ping.
    let pongBytes = 0;
    client.on('data', (d: Buffer) => (pongBytes += d.length));
    client.resume();
    await until(() => pongBytes >= (32 * 1024 * 1024 * 127) / 131, 'every pong', 60000);
    client.destroy();
    await until(() => side.closed, 'the session to end');
  });

  it('ends quietly when its client resets the connection while events go out (EPIPE, ECONNRESET)', async () => {
    // Session 37 saw this file fail once under load with EPIPE: the flood test's client was
    // destroyed while the server still wrote pongs, and nothing listened for the socket's error.
    for (let round = 0; round < 5; round++) {
      const { client, side } = await open();
      const session = side.session!;
      client.resetAndDestroy();
      // The server goes on writing into the reset connection (events, then pongs of pings it
      // had read): the write fails with EPIPE or ECONNRESET, which must end this session alone.
      for (let i = 0; i < 200 && !side.closed; i++) {
        session.emitShared({ data: Buffer.alloc(64 * 1024, 0x61), framed: undefined });
        await new Promise((r) => setTimeout(r, 5));
      }
      await until(() => side.closed, `the session of round ${round} to end`);
    }
  });

  it('answers a close in the middle of a fragmented message and ends the session', async () => {
    const { client, side } = await open();
    let got = Buffer.alloc(0);
    client.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    client.write(clientFrame(1, Buffer.from('{"half'), false));
    const code = Buffer.alloc(2);
    code.writeUInt16BE(1001);
    client.write(clientFrame(8, code));
    await until(() => firstClose(got) !== undefined, 'a close frame');
    assert.equal(firstClose(got), 1001);
    await until(() => side.closed, 'the session to end');
    client.destroy();
  });

  it('keeps no timer once its socket closed (a session does not outlive its socket)', async () => {
    // Timers made by the session (its stack names ws-session) that are still alive.
    const live = new Set<number>();
    const hook = createHook({
      init(id, type) {
        if (type === 'Timeout' && (new Error().stack ?? '').includes('ws-session')) live.add(id);
      },
      destroy(id) {
        live.delete(id);
      },
    }).enable();
    try {
      for (const how of ['close frame', 'garbage', 'end']) {
        const { client, side } = await open();
        if (how === 'close frame') client.write(clientFrame(8, Buffer.from([0x03, 0xe8])));
        else if (how === 'garbage') client.write(Buffer.from([0x81, 0x05, 0x68]));
        else client.end();
        client.on('data', () => undefined);
        await until(() => side.closed, `the session ended by ${how}`);
        client.destroy();
      }
      await new Promise((r) => setImmediate(r));
      assert.equal(live.size, 0, `${live.size} timers of closed sessions are still armed`);
    } finally {
      hook.disable();
    }
  });

  it('refuses random garbage with a protocol close, never an exception (seeded)', async () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    for (let round = 0; round < 20; round++) {
      const { client, side } = await open();
      let got = Buffer.alloc(0);
      client.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
      const garbage = Buffer.from(
        Array.from({ length: 1 + Math.floor(rnd() * 4096) }, () => Math.floor(rnd() * 256)),
      );
      client.write(garbage);
      client.end();
      await until(() => side.closed, `round ${round} (seed ${seed}) to end`);
      const code = firstClose(got);
      assert.ok(
        code === undefined || (code >= 1000 && code <= 4999),
        `seed ${seed} round ${round}: close code ${String(code)}`,
      );
      client.destroy();
    }
  });

  it('parses random frames into messages or a WsProtocolError, whatever the cut (seeded)', () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    for (let round = 0; round < 500; round++) {
      const p = new WsParser(MAX_CLIENT_MESSAGE);
      const frames: Buffer[] = [];
      for (let i = 0; i < 1 + Math.floor(rnd() * 6); i++) {
        const op = [0, 1, 2, 8, 9, 10, 3][Math.floor(rnd() * 7)]!;
        const len = Math.floor(rnd() * (rnd() < 0.1 ? 300 : 40));
        const payload = Buffer.from(Array.from({ length: len }, () => Math.floor(rnd() * 256)));
        frames.push(rnd() < 0.1 ? payload : clientFrame(op, payload, rnd() < 0.7));
      }
      const bytes = Buffer.concat(frames);
      try {
        for (let at = 0; at < bytes.length;) {
          const step = 1 + Math.floor(rnd() * 64);
          p.push(bytes.subarray(at, at + step));
          at += step;
        }
      } catch (err) {
        assert.ok(err instanceof WsProtocolError, `seed ${seed} round ${round}: ${String(err)}`);
        assert.ok([1002, 1007, 1009].includes(err.code), `seed ${seed} round ${round}: code ${err.code}`);
      }
    }
  });
});
