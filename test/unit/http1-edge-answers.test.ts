/**
 * Edge cases of the HTTP/1.1 front door (src/http/http1-*.ts) that a hostile-client pass found
 * answered wrongly or not at all, over real loopback connections:
 *  - an `Expect` other than `100-continue` was ignored: now 417 EXPECTATION_FAILED (RFC 9110
 *    section 10.1.1), and the route never runs;
 *  - a body its client cut short by ending its side (fewer bytes than its Content-Length, or a
 *    chunked body without its last chunk) got the connection closed with no answer: now 400
 *    saying how much of it arrived, and nothing of it is applied;
 *  - a method of any length reached routing: one longer than any distkv implements is now 501
 *    NOT_IMPLEMENTED from its first bytes, before the rest of a 40 KB method is sent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Router } from '../../src/http/router.js';
import { openRaw, until } from '../helpers/raw-conn.js';
import { parseRaw } from '../helpers/raw-http.js';
import { type RouterServer, startRouterServer } from '../helpers/router-server.js';

describe('HTTP/1.1 edge answers', () => {
  let srv: RouterServer;
  const whole: number[] = [];
  let aborted = 0;
  let routed = 0;

  before(async () => {
    const router = new Router();
    router.put('/body', (res) => {
      routed++;
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
    router.any('/any', (res) => {
      routed++;
      res.onAborted(() => undefined);
      res.end('routed');
    });
    srv = await startRouterServer(router, { idleTimeoutMs: 10000 });
  });

  after(() => {
    srv.server.close();
    srv.server.destroyConnections();
  });

  /** exchange sends `data`, optionally ends the client's side, and returns what came back once the server closed. */
  async function exchange(data: string, end: boolean): Promise<{ text: string; closed: boolean }> {
    const c = await openRaw(srv.port);
    c.sock.write(data);
    if (end) c.sock.end();
    await until(() => c.closed(), 3000);
    const out = { text: c.text(), closed: c.closed() };
    c.sock.destroy();
    return out;
  }

  describe('Expect', () => {
    it('answers 417 EXPECTATION_FAILED to an expectation other than 100-continue, without running the route', async () => {
      const before = routed;
      const { text, closed } = await exchange(
        'PUT /body HTTP/1.1\r\nHost: t\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\nab',
        false,
      );
      const r = parseRaw(text);
      assert.equal(r.status, 417, text);
      assert.match(text, /^HTTP\/1\.1 417 Expectation Failed\r\n/);
      assert.match(r.body, /"code":"EXPECTATION_FAILED"/);
      assert.match(r.body, /Expect \\"200-ok\\" cannot be met/);
      assert.equal(r.headers.get('connection'), 'close');
      assert.ok(closed, 'the connection was closed');
      assert.equal(routed, before, 'the route ran');
    });

    it('refuses a list that holds another expectation beside 100-continue', async () => {
      const { text } = await exchange(
        'PUT /body HTTP/1.1\r\nHost: t\r\nExpect: 100-continue, x-fast\r\nContent-Length: 2\r\n\r\n',
        false,
      );
      assert.equal(parseRaw(text).status, 417, text);
    });

    it('still honours 100-continue (any case)', async () => {
      const c = await openRaw(srv.port);
      c.sock.write('PUT /body HTTP/1.1\r\nHost: t\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n');
      await until(() => c.text().includes('100 Continue'), 2000);
      assert.match(c.text(), /^HTTP\/1\.1 100 Continue\r\n\r\n/);
      c.sock.write('ab');
      await until(() => c.text().includes('\r\n\r\n2'), 2000);
      assert.match(c.text(), /HTTP\/1\.1 200 OK/);
      c.sock.destroy();
    });
  });

  describe('a body its client cut short by ending its side', () => {
    it('answers 400 naming how many of the Content-Length bytes arrived, then closes; nothing is applied', async () => {
      const before = { whole: whole.length, aborted };
      const { text, closed } = await exchange(
        `PUT /body HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n${'x'.repeat(30)}`,
        true,
      );
      const r = parseRaw(text);
      assert.equal(r.status, 400, `no answer or the wrong one: ${JSON.stringify(text)}`);
      assert.match(r.body, /"code":"BAD_REQUEST"/);
      assert.match(r.body, /request body ended early: the client closed its side after 30 of the 100 bytes/);
      assert.equal(r.headers.get('connection'), 'close');
      assert.ok(closed);
      assert.equal(whole.length, before.whole, 'the route saw the body whole');
      assert.equal(aborted, before.aborted + 1, 'the request was aborted');
    });

    it('answers 400 to a chunked body ended before its last chunk', async () => {
      const before = { whole: whole.length, aborted };
      const { text } = await exchange(
        'PUT /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nab',
        true,
      );
      const r = parseRaw(text);
      assert.equal(r.status, 400, `no answer or the wrong one: ${JSON.stringify(text)}`);
      assert.match(
        r.body,
        /chunked request body ended early: the client closed its side after 7 bytes of chunk data/,
      );
      assert.equal(whole.length, before.whole);
      assert.equal(aborted, before.aborted + 1);
    });

    it('answers the complete requests before it first', async () => {
      const { text } = await exchange(
        'PUT /body HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nab' +
          'PUT /body HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\nabc',
        true,
      );
      assert.match(text, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n2HTTP\/1\.1 400 Bad Request\r\n/, text);
      assert.match(text, /after 3 of the 9 bytes/);
    });

    it('still just closes when the body was whole (nothing to refuse)', async () => {
      const { text, closed } = await exchange(
        'PUT /body HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nab',
        true,
      );
      assert.equal(parseRaw(text).status, 200, text);
      assert.doesNotMatch(text, /400/);
      assert.ok(closed);
    });
  });

  describe('a method longer than any distkv implements', () => {
    it('answers 501 NOT_IMPLEMENTED to a whole head with a long method, not routing it', async () => {
      const before = routed;
      const { text } = await exchange('PROPFIND /any HTTP/1.1\r\nHost: t\r\n\r\n', false);
      const r = parseRaw(text);
      assert.equal(r.status, 501, text);
      assert.match(text, /^HTTP\/1\.1 501 Not Implemented\r\n/);
      assert.match(r.body, /"code":"NOT_IMPLEMENTED"/);
      assert.match(r.body, /request method is longer than 7 bytes/);
      assert.equal(routed, before, 'the route ran');
    });

    it('answers 501 from the first bytes of a 40 KB method and closes before the rest is sent', async () => {
      const c = await openRaw(srv.port);
      c.sock.write('M'.repeat(64));
      await until(() => c.closed(), 2000);
      // The server did not wait for the method to end (a space) or for its 414/431 limits.
      assert.ok(c.closed(), 'the server waited for more of the method');
      const r = parseRaw(c.text());
      assert.equal(r.status, 501, c.text());
      assert.doesNotMatch(r.body, /M{20}/, 'the method was echoed');
      c.sock.destroy();
      // Sent whole, it is refused alike.
      const { text } = await exchange(`${'M'.repeat(40 * 1024)} /any HTTP/1.1\r\nHost: t\r\n\r\n`, false);
      assert.equal(parseRaw(text).status, 501, text.slice(0, 200));
    });

    it('routes the methods distkv implements, OPTIONS the longest', async () => {
      for (const method of ['GET', 'DELETE', 'OPTIONS']) {
        const { text } = await exchange(
          `${method} /any HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`,
          false,
        );
        assert.equal(parseRaw(text).status, 200, `${method}: ${text}`);
      }
    });
  });
});
