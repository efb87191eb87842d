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
});
