/**
 * `distkv serve` stopping (SIGTERM) while a RESP command is half received (a SET whose 1 MiB value
 * is still arriving): the command is not run, and the connection ends with a FIN, not a reset,
 * within the stop's quiet wait (docs/operations.md, "A graceful stop"; src/resp/resp-connection.ts,
 * "Shutdown"). Unlike HTTP, whose request in the middle of its body is read on and run
 * (test/e2e/stop-answers-arriving-body.test.ts), a RESP command completed during the stop would
 * only be refused (`-TRYAGAIN`), so it is not waited for: a Redis client sees its connection
 * closed, as when redis-server shuts down, and knows a command left without a reply did not run.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestCluster } from '../helpers/cluster.js';
import { freeNodeAddress, respOf } from '../helpers/resp.js';
import { tempDir } from '../helpers/temp-dir.js';

const VALUE_BYTES = 1024 * 1024;
const FIRST_PART = 300_000;
const STEP = 50_000;
const STEP_MS = 20;

describe('a RESP command half received when distkv serve starts to stop', () => {
  it('is not run, and its connection ends with a FIN (no reply)', { timeout: 120000 }, async () => {
    const dir = tempDir(after);
    const A = await freeNodeAddress();
    const cluster = await TestCluster.start({ dir, shards: [{ address: A }] });
    const { port } = respOf(A);
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1').on('data', (d: string) => (text += d));
    const conn = { closed: false };
    const ended = new Promise<string>((resolve) => {
      socket.on('end', () => {
        resolve('FIN');
      });
      socket.on('error', (err: NodeJS.ErrnoException) => {
        resolve(err.code ?? err.message);
      });
      socket.on('close', () => (conn.closed = true));
    });
    try {
      await once(socket, 'connect');
      socket.write('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nold\r\n');
      for (let i = 0; i < 400 && text === ''; i++) await sleep(5);
      assert.equal(text, '+OK\r\n');
      socket.write(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${VALUE_BYTES}\r\n`);
      socket.write(Buffer.alloc(FIRST_PART, 0x41));
      await sleep(200);
      const exited = cluster.process(A).stop();
      let sent = FIRST_PART;
      while (sent < VALUE_BYTES && !conn.closed) {
        const n = Math.min(STEP, VALUE_BYTES - sent);
        socket.write(Buffer.alloc(n, 0x41));
        sent += n;
        await sleep(STEP_MS);
      }
      if (!conn.closed) socket.write('\r\n');
      assert.equal(await Promise.race([ended, sleep(5000).then(() => 'still open after 5 s')]), 'FIN');
      assert.equal(text, '+OK\r\n', 'the half-received SET got no reply');
      assert.equal(await exited, 0);
      await cluster.startNode(A);
      const r = await fetch(`http://${A}/kv/k`);
      assert.equal(await r.text(), 'old', 'the half-received SET did not run');
    } finally {
      socket.destroy();
      await cluster.stop();
    }
  });
});
