import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ExchangeSink, HttpResponse } from '../../src/http/http1-exchange.js';

/** sink collects what a response hands to its connection, as bytes. */
function sink(): { sink: ExchangeSink; bytes: () => Buffer } {
  const out: Buffer[] = [];
  return {
    sink: {
      send: (_res, data) =>
        out.push(typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data)),
      ended: () => undefined,
      needsDrain: () => false,
      destroy: () => undefined,
      dateLine: () => 'Date: Mon, 30 Nov 2026 07:00:00 GMT\r\n',
      detach: () => undefined,
      awaitsBody: () => false,
    },
    bytes: () => Buffer.concat(out),
  };
}

describe('HttpResponse', () => {
  it('writes an ASCII head and a small body as one exact buffer', () => {
    const s = sink();
    new HttpResponse(s.sink, 'GET', true, false)
      .writeHeader('ETag', '"0.7"')
      .writeHeader('Content-Type', 'application/octet-stream')
      .end(Buffer.from([0, 1, 2, 0xff]));
    const text = s.bytes();
    const head =
      'HTTP/1.1 200 OK\r\nDate: Mon, 30 Nov 2026 07:00:00 GMT\r\nETag: "0.7"\r\n' +
      'Content-Type: application/octet-stream\r\nContent-Length: 4\r\n\r\n';
    assert.deepEqual(text, Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from([0, 1, 2, 0xff])]));
  });

  it('writes a head with a UTF-8 header value as UTF-8, its body right behind it', () => {
    const s = sink();
    new HttpResponse(s.sink, 'GET', true, false)
      .writeStatus('307 Temporary Redirect')
      .writeHeader('Location', 'http://127.0.0.1:1/kv/clé-€')
      .end(Buffer.from('moved'));
    const text = s.bytes().toString('utf8');
    assert.match(text, /\r\nLocation: http:\/\/127\.0\.0\.1:1\/kv\/clé-€\r\n/);
    assert.ok(text.endsWith('Content-Length: 5\r\n\r\nmoved'), text);
  });

  it('ends a write with a 204 head built from its header lines, closing an HTTP/1.0 keep-alive right', () => {
    const s = sink();
    const res = new HttpResponse(s.sink, 'PUT', true, false).endNoContent(
      'X-Distkv-Seq: 12\r\nETag: "0.12"\r\n',
    );
    assert.equal(res.status, 204);
    assert.equal(res.ended, true);
    assert.equal(
      s.bytes().toString('latin1'),
      'HTTP/1.1 204 No Content\r\nDate: Mon, 30 Nov 2026 07:00:00 GMT\r\nX-Distkv-Seq: 12\r\nETag: "0.12"\r\n\r\n',
    );
    const closing = sink();
    new HttpResponse(closing.sink, 'PUT', false, true).endNoContent('X-Distkv-Seq: 3\r\n');
    assert.ok(closing.bytes().toString('latin1').endsWith('X-Distkv-Seq: 3\r\nConnection: close\r\n\r\n'));
    const kept = sink();
    new HttpResponse(kept.sink, 'PUT', true, true).endNoContent('X-Distkv-Seq: 4\r\n');
    assert.ok(kept.bytes().toString('latin1').endsWith('X-Distkv-Seq: 4\r\nConnection: keep-alive\r\n\r\n'));
  });
});
