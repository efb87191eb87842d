/**
 * A node that starts draining (SIGTERM) answers the requests its connections already sent, and
 * the last answer on each says `Connection: close`: a keep-alive client then opens a new
 * connection for its next request (refused by the stopped listener: never sent) instead of
 * sending it on one that is about to end unread (a reset: for a write, an unknown outcome).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { Router } from '../../src/http/router.js';
import { startRouterServer } from '../helpers/router-server.js';

describe('a connection of a draining server', () => {
  it('answers the requests it read, the last with Connection: close, then ends', async () => {
    let started = 0;
    const router = new Router().get('/slow', (res) => {
      started++;
      // Answered later, as a write is after its fsync or a read from a worker thread.
      setTimeout(() => {
        res.writeStatus('204 No Content').end();
      }, 100);
    });
    const { port, server } = await startRouterServer(router);
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    let text = '';
    socket.setEncoding('utf8').on('data', (d: string) => (text += d));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    try {
      await new Promise((resolve) => socket.once('connect', resolve));
      const get = 'GET /slow HTTP/1.1\r\nHost: x\r\n\r\n';
      socket.write(get + get);
      for (let i = 0; i < 100 && started < 2; i++) await sleep(5);
      assert.equal(started, 2);
      server.close();
      await Promise.race([closed, sleep(3000)]);
      const answers = text.split('HTTP/1.1 ').slice(1);
      assert.equal(answers.length, 2, text);
      assert.match(answers[0]!, /^204 /);
      assert.doesNotMatch(answers[0]!, /Connection: close/i);
      assert.match(answers[1]!, /^204 [^]*\r\nConnection: close\r\n/i);
    } finally {
      socket.destroy();
      server.close();
      server.destroyConnections();
    }
  });
});
