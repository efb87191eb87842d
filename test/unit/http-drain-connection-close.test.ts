/**
 * A node that starts draining (SIGTERM) answers the requests its connections already sent, and
 * the last answer on each says `Connection: close`: a keep-alive client then opens a new
 * connection for its next request (refused by the stopped listener: never sent) instead of
 * sending it on one that is about to end unread (a reset: for a write, an unknown outcome).
 * A connection with nothing pending when the drain begins is not ended at once: the request its
 * client sent meanwhile (it had its last answer, the drain's news had not reached it) is read and
 * answered, with `Connection: close`, and `endIdle` ends what stays idle.
 * A request a draining node refuses (503 DRAINING, route.ts) closes its connection too, also while
 * the listener still accepts (a graceful stop with etcd hands its shards over first): kept alive,
 * the connection sat idle through the client's 100 ms wait, and the drain ended it after 100 ms
 * quiet as the retry went out on it (1 or 2 writes of unknown outcome per stop, 8 writers).
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { HttpContext } from '../../src/http/context.js';
import type { Http1Server } from '../../src/http/http1-server.js';
import { route } from '../../src/http/route.js';
import { Router } from '../../src/http/router.js';
import { startRouterServer } from '../helpers/router-server.js';

/** Client is a raw connection to a server of one router: what it was answered, and its close. */
interface Client {
  server: Http1Server;
  socket: Socket;
  text: () => string;
  closed: Promise<unknown>;
}

/** connectTo starts a server of `router` and connects one raw client to it. */
async function connectTo(router: Router): Promise<Client> {
  const { port, server } = await startRouterServer(router);
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  let text = '';
  socket.setEncoding('utf8').on('data', (d: string) => (text += d));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  await new Promise((resolve) => socket.once('connect', resolve));
  return { server, socket, text: () => text, closed };
}

/** send writes `request` on the client's connection and waits (up to 5 s) until what it was answered holds `until`. */
async function send(c: Client, request: string, until: string): Promise<void> {
  c.socket.write(request);
  for (let i = 0; i < 1000 && !c.text().includes(until); i++) await sleep(5);
}

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
    const { server, socket, text, closed } = await connectTo(router);
    try {
      const get = 'GET /slow HTTP/1.1\r\nHost: x\r\n\r\n';
      socket.write(get + get);
      for (let i = 0; i < 1000 && started < 2; i++) await sleep(5);
      assert.equal(started, 2);
      server.close();
      await Promise.race([closed, sleep(3000)]);
      const answers = text().split('HTTP/1.1 ').slice(1);
      assert.equal(answers.length, 2, text());
      assert.match(answers[0]!, /^204 /);
      assert.doesNotMatch(answers[0]!, /Connection: close/i);
      assert.match(answers[1]!, /^204 [^]*\r\nConnection: close\r\n/i);
    } finally {
      socket.destroy();
      server.close();
      server.destroyConnections();
    }
  });

  it('reads and answers, with Connection: close, the request an idle connection sends as the drain begins', async () => {
    const router = new Router().put('/kv/a', (res) => {
      res.writeStatus('204 No Content').end();
    });
    const client = await connectTo(router);
    const { server, socket, text, closed } = client;
    try {
      const put = 'PUT /kv/a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nv';
      await send(client, put, '\r\n\r\n');
      // Idle now (its answer is in): the drain begins, and the client's next request, already on
      // its way, comes after.
      server.close();
      socket.write(put);
      await sleep(100);
      const answers = text().split('HTTP/1.1 ').slice(1);
      assert.equal(answers.length, 2, `the second PUT got no answer: ${JSON.stringify(text())}`);
      assert.match(answers[1]!, /^204 [^]*\r\nConnection: close\r\n/i);
      await Promise.race([closed, sleep(3000)]);
      assert.equal(socket.readyState, 'closed', 'the connection ended after its last answer');
    } finally {
      socket.destroy();
      server.destroyConnections();
    }
  });

  it('ends a connection still idle at endIdle, and one that sends nothing more', async () => {
    const router = new Router().get('/x', (res) => {
      res.writeStatus('204 No Content').end();
    });
    const { server, socket, closed } = await connectTo(router);
    try {
      for (let i = 0; i < 1000 && server.quietMs() === Infinity; i++) await sleep(5);
      server.close();
      assert.ok(server.quietMs() < 1000, 'an open connection: not quiet for long yet');
      server.endIdle();
      assert.equal(await Promise.race([closed.then(() => 'closed'), sleep(3000)]), 'closed');
    } finally {
      socket.destroy();
      server.destroyConnections();
    }
  });

  it('closes the connection with a 503 DRAINING, while the listener still accepts', async () => {
    const ctx = { state: { phase: 'serving', inFlight: 0 } } as unknown as HttpContext;
    const router = new Router().get(
      '/kv/a',
      route(ctx, 'kv_get', (res) => {
        res.writeStatus('204 No Content').end();
      }),
    );
    const client = await connectTo(router);
    const { server, socket, text, closed } = client;
    try {
      const get = 'GET /kv/a HTTP/1.1\r\nHost: x\r\n\r\n';
      await send(client, get, '\r\n\r\n');
      assert.match(text(), /^HTTP\/1\.1 204 /);
      assert.doesNotMatch(text(), /Connection: close/i, 'a serving node keeps the connection');
      ctx.state.phase = 'draining';
      await send(client, get, 'DRAINING');
      const answers = text().split('HTTP/1.1 ').slice(1);
      assert.match(answers[1] ?? '', /^503 [^]*\r\nConnection: close\r\n/i, text());
      assert.equal(await Promise.race([closed.then(() => 'closed'), sleep(3000)]), 'closed');
    } finally {
      socket.destroy();
      server.close();
      server.destroyConnections();
    }
  });
});
