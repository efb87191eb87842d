/**
 * What an HTTP/1.0 request head may not ask for (src/http/http1-head.ts): `Expect: 100-continue`
 * is ignored (an HTTP/1.0 client knows no 1xx answer; RFC 9110 section 10.1.1) and `Upgrade` is
 * dropped (RFC 9110 section 7.8), over a real connection too: no `100 Continue` reaches the client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isHeadError, parseHead, type RequestHead } from '../../src/http/http1-head.js';
import { Router } from '../../src/http/router.js';
import { rawRequest } from '../helpers/raw-http.js';
import { type RouterServer, startRouterServer } from '../helpers/router-server.js';

const ok = (head: string): RequestHead => {
  const h = parseHead(head);
  if (isHeadError(h)) assert.fail(`expected a head, got ${h.status} ${h.message}`);
  return h;
};

describe('an HTTP/1.0 request head', () => {
  it('ignores Expect: 100-continue in HTTP/1.0 and keeps it in HTTP/1.1', () => {
    const fields = 'Expect: 100-continue\r\nContent-Length: 1';
    assert.equal(ok(`PUT /kv/a HTTP/1.0\r\n${fields}`).expectContinue, false);
    assert.equal(ok(`PUT /kv/a HTTP/1.1\r\nHost: t\r\n${fields}`).expectContinue, true);
  });

  it('drops Upgrade from an HTTP/1.0 head and keeps it in HTTP/1.1', () => {
    const fields = 'Connection: Upgrade\r\nUpgrade: websocket\r\nX-After: 1';
    const h10 = ok(`GET /watch HTTP/1.0\r\n${fields}`);
    assert.equal(h10.names.includes('upgrade'), false);
    assert.deepEqual(h10.names, ['connection', 'x-after']);
    assert.deepEqual(h10.values, ['Upgrade', '1']);
    const h11 = ok(`GET /watch HTTP/1.1\r\nHost: t\r\n${fields}`);
    assert.equal(h11.values[h11.names.indexOf('upgrade')], 'websocket');
  });
});

describe('an HTTP/1.0 request with Expect: 100-continue over a connection', () => {
  let srv: RouterServer;
  before(async () => {
    const router = new Router();
    router.put('/body', (res) => {
      const parts: Buffer[] = [];
      res.onData((chunk, isLast) => {
        parts.push(Buffer.from(chunk));
        if (isLast) res.end(Buffer.concat(parts));
      });
    });
    srv = await startRouterServer(router);
  });
  after(() => {
    srv.server.close();
    srv.server.destroyConnections();
  });

  it('gets its answer and no 100 Continue, which an HTTP/1.0 client would take for the answer', async () => {
    const text = await rawRequest(
      srv.port,
      'PUT /body HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello',
      { until: (t) => t.endsWith('hello') },
    );
    assert.equal(text.includes('100 Continue'), false, text);
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(text.endsWith('\r\n\r\nhello'), text);
  });

  it('still sends 100 Continue to an HTTP/1.1 client that asks', async () => {
    const text = await rawRequest(
      srv.port,
      'PUT /body HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello',
      { until: (t) => t.endsWith('hello') },
    );
    assert.match(text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
  });
});
