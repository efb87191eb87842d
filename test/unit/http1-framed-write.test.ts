/**
 * The front door's framed-write path (http1-exchange.ts): a buffer written to many streaming
 * responses is framed once as one chunk (frameChunk) and each response sends it as one piece
 * (writeFramed), with the same bytes on the wire as write() would have sent.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ExchangeSink, frameChunk, HttpResponse } from '../../src/http/http1-exchange.js';

/** sink keeps every piece a response hands to its connection. */
function sink(): { sink: ExchangeSink; pieces: Buffer[] } {
  const pieces: Buffer[] = [];
  return {
    sink: {
      send: (_res, data) => pieces.push(typeof data === 'string' ? Buffer.from(data) : Buffer.from(data)),
      ended: () => undefined,
      needsDrain: () => false,
      destroy: () => undefined,
      dateLine: () => 'Date: Mon, 30 Nov 2026 07:00:00 GMT\r\n',
      detach: () => undefined,
      awaitsBody: () => false,
    },
    pieces,
  };
}

/** bodyOf returns what follows the head. */
function bodyOf(pieces: Buffer[]): string {
  const text = Buffer.concat(pieces).toString('latin1');
  return text.slice(text.indexOf('\r\n\r\n') + 4);
}

describe('frameChunk and writeFramed', () => {
  it('frames the pieces once as one chunk, its data a view of the frame', () => {
    const { framed, data } = frameChunk([Buffer.from('event: put\n'), Buffer.from('x'.repeat(300))]);
    assert.equal(framed.toString(), `${(311).toString(16)}\r\nevent: put\n${'x'.repeat(300)}\r\n`);
    assert.equal(data.toString(), `event: put\n${'x'.repeat(300)}`);
    assert.equal(data.buffer, framed.buffer);
  });

  it('sends the frame as one piece, the same bytes write() sends in three', () => {
    const chunk = frameChunk([Buffer.from('data: 1\n\n')]);
    const a = sink();
    const ra = new HttpResponse(a.sink, 'GET', true, false);
    ra.write(new Uint8Array(0));
    const before = a.pieces.length;
    assert.equal(ra.writeFramed(chunk.data, chunk.framed), true);
    assert.equal(a.pieces.length, before + 1, 'one piece per framed write');
    ra.end();
    const b = sink();
    const rb = new HttpResponse(b.sink, 'GET', true, false);
    rb.write(new Uint8Array(0));
    rb.write(chunk.data);
    rb.end();
    assert.equal(bodyOf(a.pieces), bodyOf(b.pieces));
    assert.equal(bodyOf(a.pieces), '9\r\ndata: 1\n\n\r\n0\r\n\r\n');
  });

  it('never sends the frame of no bytes (it would end the body)', () => {
    const s = sink();
    const res = new HttpResponse(s.sink, 'GET', true, false);
    res.write(new Uint8Array(0));
    const empty = frameChunk([]);
    res.writeFramed(empty.data, empty.framed);
    res.end();
    assert.equal(bodyOf(s.pieces), '0\r\n\r\n');
  });

  it('sends the data unframed to an HTTP/1.0 client, and frames it itself before the head is out', () => {
    const chunk = frameChunk([Buffer.from('abc')]);
    const s10 = sink();
    const r10 = new HttpResponse(s10.sink, 'GET', true, true);
    r10.writeFramed(chunk.data, chunk.framed);
    assert.equal(bodyOf(s10.pieces), 'abc');
    const s11 = sink();
    const r11 = new HttpResponse(s11.sink, 'GET', true, false);
    r11.writeFramed(chunk.data, chunk.framed);
    assert.match(Buffer.concat(s11.pieces).toString(), /Transfer-Encoding: chunked\r\n/);
    assert.equal(bodyOf(s11.pieces), '3\r\nabc\r\n');
  });
});
