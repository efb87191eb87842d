/**
 * A forwarded write carries the deadline past which its owner must not start it (X-Distkv-Deadline,
 * src/http/forward-deadline.ts): the sender sets it a margin before it gives up, and an owner that
 * handles the head later answers 503 FORWARD_EXPIRED without running the route. Without it, a
 * stopped owner that resumed applied a write its sender had long reported "may have been applied",
 * after any later write of the same key.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEADLINE_HEADER, DEADLINE_MARGIN_MS, deadlineFor } from '../../src/http/forward-deadline.js';
import { Forwarder } from '../../src/http/forwarder.js';
import type { Http1Server } from '../../src/http/http1-server.js';
import { Router } from '../../src/http/router.js';
import { parseRaw, rawRequest } from '../helpers/raw-http.js';
import { startRouterServer } from '../helpers/router-server.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

const ran: string[] = [];
let server: Http1Server | undefined;
let port = 0;
let twin: HandlerTwin | undefined;
const seen: { method: string; deadline: string | undefined }[] = [];
const RELAY_MS = 3000;
const FORWARD_MS = 1200;
const forwarder = new Forwarder('http', 'cfg', undefined, { relayMs: RELAY_MS, forwardMs: FORWARD_MS });

before(async () => {
  const router = new Router();
  router.put('/kv/*', (res, req) => {
    ran.push(`PUT ${req.getUrl()}`);
    res.onData(() => undefined);
    res.writeStatus('204 No Content');
    res.end();
  });
  router.get('/kv/*', (res, req) => {
    ran.push(`GET ${req.getUrl()}`);
    res.end('v');
  });
  ({ port, server } = await startRouterServer(router));
  twin = await startHandlerTwin((req, res) => {
    const d = req.headers[DEADLINE_HEADER];
    seen.push({ method: req.method ?? '', deadline: typeof d === 'string' ? d : undefined });
    req.resume();
    req.on('end', () => {
      if (req.url?.startsWith('/kv/_batch') === true)
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"results":[{"ok":true}]}');
      else res.writeHead(204).end();
    });
  });
});

after(async () => {
  server?.close();
  await forwarder.close();
  await twin?.stop();
});

async function send(method: string, deadline: string | undefined): Promise<{ status: number; body: string }> {
  const head = [
    `${method} /kv/k HTTP/1.1`,
    'Host: t',
    'Connection: close',
    ...(method === 'PUT' ? ['Content-Length: 1'] : []),
    ...(deadline === undefined ? [] : [`X-Distkv-Deadline: ${deadline}`]),
  ];
  const r = parseRaw(
    await rawRequest(port, `${head.join('\r\n')}\r\n\r\n${method === 'PUT' ? 'v' : ''}`, { idleMs: 2000 }),
  );
  return { status: r.status, body: r.body };
}

describe('an owner and a forwarded write deadline', () => {
  it('does not start a write whose deadline has passed: 503 FORWARD_EXPIRED, not applied', async () => {
    ran.length = 0;
    const r = await send('PUT', String(Date.now() - 50));
    assert.equal(r.status, 503);
    assert.match(r.body, /"code":"FORWARD_EXPIRED"/);
    assert.match(r.body, /after the deadline its sender set \(X-Distkv-Deadline\).*it was not applied/);
    assert.deepEqual(ran, []);
  });

  it('runs a write whose deadline is ahead, one without a deadline, and a read whatever its header says', async () => {
    ran.length = 0;
    assert.equal((await send('PUT', String(Date.now() + 60_000))).status, 204);
    assert.equal((await send('PUT', undefined)).status, 204);
    assert.equal((await send('GET', String(Date.now() - 50))).status, 200);
    assert.deepEqual(ran, ['PUT /kv/k', 'PUT /kv/k', 'GET /kv/k']);
  });

  it('refuses a deadline that is not a number of ms, naming the header', async () => {
    const r = await send('PUT', 'soon');
    assert.equal(r.status, 400);
    assert.match(r.body, /X-Distkv-Deadline must be a time in ms since the epoch, got \\"soon\\"/);
  });
});

describe('a sender and its forwarded writes', () => {
  it("sets a relayed write's deadline a margin before the relay bound, and none on a read", async () => {
    seen.length = 0;
    const start = Date.now();
    await forwarder.relay(twin!.address, 'PUT', '/kv/k', Buffer.from('v'));
    await forwarder.relay(twin!.address, 'GET', '/kv/k', undefined);
    await forwarder.relay(twin!.address, 'GET', '/set?key=k&value=v', undefined, {}, 0, true);
    const end = Date.now();
    assert.deepEqual(
      seen.map((s) => [s.method, s.deadline === undefined]),
      [
        ['PUT', false],
        ['GET', true],
        ['GET', false],
      ],
    );
    const d = Number(seen[0]!.deadline);
    assert.ok(
      d >= start + RELAY_MS - DEADLINE_MARGIN_MS && d <= end + RELAY_MS - DEADLINE_MARGIN_MS,
      String(d - start),
    );
  });

  it("sets a batch part's deadline before forward_timeout_ms, at most half of it early", async () => {
    seen.length = 0;
    const start = Date.now();
    await forwarder.batch(twin!.address, [{ op: 'set', key: 'k', value_base64: 'dg==' }]);
    const d = Number(seen[0]!.deadline);
    assert.ok(d >= start + FORWARD_MS / 2 && d <= Date.now() + FORWARD_MS / 2, String(d - start));
    assert.equal(deadlineFor(400, 1000), '1200');
    assert.equal(deadlineFor(10_000, 1000), String(1000 + 10_000 - DEADLINE_MARGIN_MS));
  });
});
