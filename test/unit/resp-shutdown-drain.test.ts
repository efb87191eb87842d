/**
 * A RESP connection when its node stops (RespListener.stopAccepting, at SIGTERM): every command it
 * has read gets a reply (its own for the ones already submitted, `-TRYAGAIN the node is shutting
 * down` for the rest), the replies are written, and the connection then ends with a FIN, not a
 * reset, while the client is still pipelining. Before, it kept answering `-TRYAGAIN` to a client
 * that kept sending until the node closed it, with a reset that threw away replies the client had
 * not read yet, so it could not tell which of its commands had run.
 *
 * Over loopback, with a RespListener on a fake worker pool that holds its replies until the test
 * releases them (so some are in flight when the drain starts).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import type { RespListener } from '../../src/resp/resp-listener.js';
import type { OpHandler } from '../../src/server/worker-pool.js';
import { OP_GET, ST_VALUE } from '../../src/worker/op-format.js';
import { freePort } from '../helpers/ports.js';
import { oneShardListener } from '../helpers/resp-one-shard.js';

/** HeldPool answers every GET with the value "v", once `release` is called. */
class HeldPool {
  readonly waiting: (() => void)[] = [];
  released = false;
  inFlight = 0;

  submit(_w: number, op: number, _s: number, _k: Uint8Array, _v: unknown, handler: OpHandler): void {
    assert.equal(op, OP_GET);
    const answer = (): void => {
      handler.onReply(ST_VALUE, 0, Buffer.from('v'));
    };
    if (this.released) setImmediate(answer);
    else this.waiting.push(answer);
  }

  release(): void {
    this.released = true;
    for (const a of this.waiting.splice(0)) a();
  }
}

function listenerOn(pool: HeldPool, port: number): RespListener {
  return oneShardListener(pool, port);
}

const GET = Buffer.from('*2\r\n$3\r\nGET\r\n$1\r\nk\r\n');

/** repliesIn splits RESP2 replies of GET ("$1 v" or an error line) and counts them by kind. */
function repliesIn(bytes: Buffer): { values: number; shuttingDown: number; other: string[] } {
  const text = bytes.toString('latin1');
  const out = { values: 0, shuttingDown: 0, other: [] as string[] };
  let at = 0;
  while (at < text.length) {
    if (text.startsWith('$1\r\nv\r\n', at)) {
      out.values++;
      at += 7;
      continue;
    }
    const end = text.indexOf('\r\n', at);
    assert.ok(end >= 0, `a whole reply at ${at}`);
    const line = text.slice(at, end);
    if (line === '-TRYAGAIN the node is shutting down') out.shuttingDown++;
    else out.other.push(line);
    at = end + 2;
  }
  return out;
}

describe('a RESP connection when the node stops', () => {
  it('answers every command it read, then ends with a FIN while the client still pipelines', async () => {
    const pool = new HeldPool();
    const l = listenerOn(pool, await freePort());
    await l.listen();
    const socket = connect(l.endpoint.port, '127.0.0.1');
    await once(socket, 'connect');
    const got: Buffer[] = [];
    socket.on('data', (b: Buffer) => got.push(b));
    let outcome: string | undefined;
    const ended = new Promise<void>((resolve) => {
      socket.on('end', () => {
        outcome ??= 'FIN';
        resolve();
      });
      socket.on('error', (err: NodeJS.ErrnoException) => {
        outcome ??= err.code ?? err.message;
        resolve();
      });
    });
    // A first pipeline: some of it submitted (held by the pool), the rest waiting in the parser.
    socket.write(Buffer.concat(Array.from({ length: 300 }, () => GET)));
    for (let i = 0; i < 1000 && pool.waiting.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    const inFlight = pool.waiting.length;
    assert.ok(inFlight > 0, 'some GETs are in flight when the drain starts');

    l.stopAccepting();
    // The client pipelines on (bounded) until it sees the end of the connection.
    let sent = 300;
    const pipelining = setInterval(() => {
      if (outcome !== undefined || !socket.writable || sent >= 20000) return;
      socket.write(Buffer.concat(Array.from({ length: 20 }, () => GET)));
      sent += 20;
    }, 1);
    setTimeout(() => {
      pool.release();
    }, 50);
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([
      ended,
      new Promise<void>((resolve) => {
        timeout = setTimeout(() => {
          outcome ??= 'no end within 3 s';
          resolve();
        }, 3000);
      }),
    ]);
    clearInterval(pipelining);
    clearTimeout(timeout);
    try {
      assert.equal(outcome, 'FIN', 'the connection ends with a FIN, not a reset nor left open');

      const replies = repliesIn(Buffer.concat(got));
      assert.deepEqual(replies.other, [], 'only values and the shutdown refusal');
      assert.equal(replies.values, inFlight, 'the GETs submitted before the drain get their values');
      assert.equal(
        replies.values + replies.shuttingDown,
        l.stats.commands,
        'every command run got its reply before the FIN',
      );
      assert.ok(replies.shuttingDown >= 300 - inFlight, 'the first pipeline is answered whole');
      socket.end();
      await once(socket, 'close');
    } finally {
      socket.destroy();
      l.close();
    }
  });
});
