/**
 * `distkv serve` stopping (SIGTERM) with an idle RESP connection open: the command its client
 * sends once the stop has begun (the RESP listener refuses new connections) is answered
 * `-TRYAGAIN the node is shutting down` (not run) and the connection then ends with a FIN; the
 * process still exits 0. Before, the idle connection was ended as the stop began and that command
 * was dropped unanswered (test/unit/resp-drain-idle.test.ts has the connection's side).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestCluster } from '../helpers/cluster.js';
import { freeNodeAddress, respOf } from '../helpers/resp.js';
import { tempDir } from '../helpers/temp-dir.js';

/** refused tells whether a new connection to `port` is refused (the listener is closed). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s: Socket = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      resolve(err.code === 'ECONNREFUSED');
    });
  });
}

describe('a RESP connection idle when distkv serve starts to stop', () => {
  it(
    'answers the command sent as the stop began with -TRYAGAIN, then ends with a FIN',
    { timeout: 120000 },
    async () => {
      const dir = tempDir(after);
      const A = await freeNodeAddress();
      const cluster = await TestCluster.start({ dir, shards: [{ address: A }] });
      const node = cluster.process(A);
      const { port } = respOf(A);
      const socket = connect(port, '127.0.0.1');
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
      try {
        await once(socket, 'connect');
        socket.write('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n');
        for (let i = 0; i < 400 && text === ''; i++) await sleep(5);
        assert.equal(text, '+OK\r\n');
        const exited = node.stop();
        // The stop has begun once the RESP listener refuses new connections.
        for (let i = 0; i < 2000 && !(await refused(port)); i++) await sleep(1);
        socket.write('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nw\r\n');
        assert.equal(await Promise.race([ended, sleep(5000).then(() => 'still open after 5 s')]), 'FIN');
        assert.equal(
          text,
          '+OK\r\n-TRYAGAIN the node is shutting down\r\n',
          'the second SET was answered, not run',
        );
        assert.equal(await exited, 0);
      } finally {
        socket.destroy();
        await cluster.stop();
      }
    },
  );
});
