/**
 * The WebSocket upgrade of `/watch` (src/http/watch-routes.ts) as a broken client asks for it: over
 * HTTP/1.0 the Upgrade is ignored (RFC 9110 section 7.8) and the watch is served as a plain SSE
 * stream, never `101`; with a body it is refused 400 naming the body.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type InlineNode, startInlineNode } from '../helpers/inline-node.js';
import { rawRequest } from '../helpers/raw-http.js';

const WS_FIELDS =
  'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';

describe('refused and ignored WebSocket upgrades of /watch', () => {
  let n: InlineNode;
  before(async () => {
    n = await startInlineNode(1, 'watch-upgrade-refusals');
  });
  after(async () => {
    await n.stop();
  });

  it('serves an HTTP/1.0 upgrade request as an SSE stream, not 101', async () => {
    const text = await rawRequest(n.port, `GET /watch?prefix=a HTTP/1.0\r\n${WS_FIELDS}\r\n`, {
      until: (t) => t.includes('event: hello'),
      idleMs: 3000,
    });
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/, text);
    assert.match(text, /Content-Type: text\/event-stream/);
    assert.equal(text.includes('101'), false, text);
  });

  it('refuses 400 an upgrade request with a body, naming the body', async () => {
    const text = await rawRequest(
      n.port,
      `GET /watch?prefix=a HTTP/1.1\r\nHost: t\r\n${WS_FIELDS}Content-Length: 5\r\n\r\nhello`,
      { until: (t) => t.includes('"}}'), idleMs: 3000 },
    );
    assert.match(text, /^HTTP\/1\.1 400 /, text);
    assert.match(text, /"code":"BAD_REQUEST"/);
    assert.match(text, /a WebSocket upgrade request has no body/);
  });
});
