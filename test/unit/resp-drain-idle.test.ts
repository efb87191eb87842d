/**
 * A RESP connection with no command outstanding when its node starts to stop
 * (RespListener.stopAccepting, at SIGTERM) is not ended at once: the command its client sent as
 * the stop began (it had its last reply; the FIN had not reached it) is read and answered
 * (`-TRYAGAIN the node is shutting down`: not run, so the client sends it again elsewhere), and the
 * connection then ends with a FIN. Before, it was ended at once and that command was dropped
 * unrun and unanswered. One that stays idle ends at `endIdle`, which the node calls once `quietMs`
 * says no command has come for a while (src/server/node-drain.ts, DRAIN_QUIET_MS), as HTTP's idle
 * keep-alive connections (test/unit/http-drain-connection-close.test.ts).
 *
 * Over loopback, with a RespListener on a fake worker pool.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { RespListener } from '../../src/resp/resp-listener.js';
import type { OpHandler } from '../../src/server/worker-pool.js';
import { ST_VALUE } from '../../src/worker/op-format.js';
import { freePort } from '../helpers/ports.js';
import { oneShardListener } from '../helpers/resp-one-shard.js';

/** pool answers every op with the value "v". */
const pool = {
  inFlight: 0,
  submit(_w: number, _op: number, _s: number, _k: Uint8Array, _v: unknown, handler: OpHandler): void {
    setImmediate(() => {
      handler.onReply(ST_VALUE, 0, Buffer.from('v'));
    });
  },
};

async function listening(): Promise<RespListener> {
  const l = oneShardListener(pool, await freePort());
  await l.listen();
  return l;
}

/** Client is a raw connection: what it was answered, and how it ended. */
interface Client {
  socket: Socket;
  text: () => string;
  /** ended resolves with 'FIN' or the socket error's code. */
  ended: Promise<string>;
}

async function client(l: RespListener): Promise<Client> {
  const socket = connect(l.endpoint.port, '127.0.0.1');
  let text = '';
  socket.setEncoding('latin1').on('data', (d: string) => (text += d));
  const ended = new Promise<string>((resolve) => {
    socket.on('end', () => {
      resolve('FIN');
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      resolve(err.code ?? err.message);
    });
  });
  await once(socket, 'connect');
  return { socket, text: () => text, ended };
}

const GET = '*2\r\n$3\r\nGET\r\n$1\r\nk\r\n';
const SET = '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nw\r\n';
const SHUTTING_DOWN = '-TRYAGAIN the node is shutting down\r\n';

/** answered waits (up to 2 s) until the client has been answered `want`. */
async function answered(c: Client, want: string): Promise<void> {
  for (let i = 0; i < 1000 && c.text() !== want; i++) await sleep(5);
  assert.equal(c.text(), want);
}

describe('a RESP connection idle when the node starts to stop', () => {
  it('answers, not run, the command its client sent as the stop began, then ends with a FIN', async () => {
    const l = await listening();
    const c = await client(l);
    try {
      c.socket.write(GET);
      await answered(c, '$1\r\nv\r\n');
      const ran = l.stats.commands;
      // Idle now: the stop begins, and the client's next command, already on its way, comes after.
      l.stopAccepting();
      c.socket.write(SET + GET);
      await answered(c, `$1\r\nv\r\n${SHUTTING_DOWN}${SHUTTING_DOWN}`);
      assert.equal(l.stats.commands, ran + 2, 'both read, neither run (the pool saw nothing)');
      assert.equal(await Promise.race([c.ended, sleep(2000).then(() => 'still open')]), 'FIN');
    } finally {
      c.socket.destroy();
      l.close();
    }
  });

  it('reads the rest of a command it held incomplete when the stop began', async () => {
    const l = await listening();
    const c = await client(l);
    try {
      c.socket.write(SET.slice(0, 10));
      await sleep(20);
      l.stopAccepting();
      c.socket.write(SET.slice(10));
      await answered(c, SHUTTING_DOWN);
      assert.equal(await Promise.race([c.ended, sleep(2000).then(() => 'still open')]), 'FIN');
    } finally {
      c.socket.destroy();
      l.close();
    }
  });

  it('stays open while quiet, ends at endIdle with a FIN, and quietMs counts from the last command', async () => {
    const l = await listening();
    const c = await client(l);
    const busy = await client(l);
    try {
      for (let i = 0; i < 1000 && l.open < 2; i++) await sleep(5);
      l.stopAccepting();
      await sleep(30);
      assert.equal(c.socket.readyState, 'open', 'an idle connection is not ended at once');
      assert.ok(l.quietMs() >= 25, `quiet since the stop: ${l.quietMs()} ms`);
      // The command runs after `sent`: counted from it, the quiet time is at most the time since
      // then, where counted from the stop it would be 30 ms more. (A fixed "< 25 ms" failed when a
      // loaded machine took that long to carry the answer back.)
      const sent = performance.now();
      busy.socket.write(GET);
      await answered(busy, SHUTTING_DOWN);
      const quiet = l.quietMs();
      const since = performance.now() - sent;
      assert.ok(quiet <= since, `a command just came: quiet ${quiet} ms, ${since} ms since it was sent`);
      assert.equal(await Promise.race([busy.ended, sleep(2000).then(() => 'still open')]), 'FIN');
      l.endIdle();
      assert.equal(await Promise.race([c.ended, sleep(2000).then(() => 'still open')]), 'FIN');
      assert.equal(c.text(), '', 'nothing was answered on the idle one');
      for (let i = 0; i < 1000 && l.open > 0; i++) await sleep(5);
      assert.equal(l.quietMs(), Infinity, 'no connection left: quiet');
    } finally {
      c.socket.destroy();
      busy.socket.destroy();
      l.close();
    }
  });
});
