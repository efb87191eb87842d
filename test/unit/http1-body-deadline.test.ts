/**
 * The request body's deadline (src/http/http1-body-deadline.ts) over real loopback connections: a
 * body dripped a byte at a time is refused 408 and its connection closed, its route never having
 * seen it whole; a large body arriving at a steady rate is read whole however long it takes past
 * the deadline's base time. The 408 is counted under the refused request's route and method (it
 * was `route="other",method="OTHER"` in /metrics).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Router } from '../../src/http/router.js';
import { openRaw, until } from '../helpers/raw-conn.js';
import { parseRaw } from '../helpers/raw-http.js';
import { type RouterServer, startRouterServer } from '../helpers/router-server.js';

const BODY_MS = 400;

describe('the deadline of a request body', () => {
  let srv: RouterServer;
  const whole: number[] = [];
  let aborted = 0;
  /** counted are the answers the server's observer was told of, as /metrics counts them. */
  const counted: { route: string; method: string; status: number }[] = [];

  before(async () => {
    const router = new Router();
    router.put('/body', (res) => {
      res.route = 'kv_put';
      let n = 0;
      res.onAborted(() => {
        aborted++;
      });
      res.onData((chunk, isLast) => {
        n += chunk.length;
        if (!isLast) return;
        whole.push(n);
        res.end(String(n));
      });
    });
    srv = await startRouterServer(router, {
      bodyTimeoutMs: BODY_MS,
      idleTimeoutMs: 10000,
      observer: {
        started: () => undefined,
        finished: (res) => {
          if (!res.aborted) counted.push({ route: res.route, method: res.method, status: res.status });
        },
      },
    });
  });

  after(() => {
    srv.server.close();
    srv.server.destroyConnections();
  });

  /** drip sends `head`, then one byte of `byte` every `everyMs` until the server closes or `max` bytes went. */
  async function drip(head: string, byte: string, everyMs: number, max: number): Promise<[string, number]> {
    const c = await openRaw(srv.port);
    c.sock.write(head);
    let sent = 0;
    while (!c.closed() && sent < max) {
      await sleep(everyMs);
      c.sock.write(byte);
      sent++;
    }
    await until(() => c.closed(), 2000);
    c.sock.destroy();
    return [c.text(), sent];
  }

  it('answers 408 REQUEST_TIMEOUT and closes when a Content-Length body drips in a byte per 50 ms', async () => {
    const before = { whole: whole.length, aborted };
    // 1000 bytes at 20 bytes/s would take 50 s; the idle limit (10 s) never fires on it.
    const [text, sent] = await drip(
      'PUT /body HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n',
      'x',
      50,
      60,
    );
    assert.ok(sent < 60, `cut off while still dripping (${sent} bytes sent)`);
    const r = parseRaw(text);
    assert.equal(r.status, 408, text);
    assert.match(r.body, /"code":"REQUEST_TIMEOUT"/);
    assert.match(r.body, /request body arrived too slowly: \d+ bytes in \d+ ms/);
    assert.equal(r.headers.get('connection'), 'close');
    assert.equal(whole.length, before.whole, 'the route never saw the body whole');
    assert.equal(aborted, before.aborted + 1, 'the request was aborted');
    assert.deepEqual(counted.at(-1), { route: 'kv_put', method: 'PUT', status: 408 });
  });

  it('answers 408 when a chunked body drips in a byte per 50 ms', async () => {
    const [text, sent] = await drip(
      'PUT /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n',
      'y',
      50,
      60,
    );
    assert.ok(sent < 60, `cut off while still dripping (${sent} bytes sent)`);
    assert.equal(parseRaw(text).status, 408, text);
  });

  it('reads whole a 1.5 MiB body sent at about 1 MiB/s, long past the base time', async () => {
    const total = 1536 * 1024;
    const c = await openRaw(srv.port);
    c.sock.write(`PUT /body HTTP/1.1\r\nHost: t\r\nContent-Length: ${total}\r\n\r\n`);
    const piece = Buffer.alloc(32 * 1024, 'z');
    const started = Date.now();
    for (let sent = 0; sent < total && !c.closed(); sent += piece.length) {
      c.sock.write(piece);
      await sleep(30);
    }
    await until(() => c.text().includes('\r\n\r\n') || c.closed(), 3000);
    c.sock.destroy();
    assert.ok(Date.now() - started > 2 * BODY_MS, 'the body took longer than the base time');
    const r = parseRaw(c.text());
    assert.equal(r.status, 200, c.text());
    assert.equal(r.body, String(total));
  });

  it('keeps a connection whose body arrived whole: its next request is served', async () => {
    const c = await openRaw(srv.port);
    c.sock.write('PUT /body HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nab');
    await sleep(50);
    c.sock.write('c');
    await sleep(BODY_MS * 2);
    c.sock.write('PUT /body HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nde');
    await until(() => c.text().split('HTTP/1.1 200').length === 3 || c.closed(), 3000);
    c.sock.destroy();
    assert.equal(c.text().split('HTTP/1.1 200').length, 3, c.text());
    assert.equal(c.closed(), false, 'not closed by a deadline of the body read before');
  });
});
