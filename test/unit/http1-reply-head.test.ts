/**
 * The reply heads encoded as bytes (src/http/http1-reply-head.ts) are the string heads that
 * HttpResponse built before, byte for byte: every seq and body length at the digit boundaries,
 * with and without each optional line, with each Connection line, and through HttpResponse (its
 * fast path and its string fallback agree).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ExchangeSink, HttpResponse } from '../../src/http/http1-exchange.js';
import {
  decimalLength,
  encodeValue,
  encodeWritten,
  putDecimal,
  ReplyPrefixes,
} from '../../src/http/http1-reply-head.js';

const DATE_LINE = 'Date: Tue, 01 Dec 2026 21:00:00 GMT\r\n';
const NUMBERS = [
  0,
  1,
  9,
  10,
  11,
  99,
  100,
  999,
  1000,
  99999,
  100000,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32,
  10 ** 15 - 1,
  10 ** 15,
  Number.MAX_SAFE_INTEGER,
];
const CONNECTIONS = ['', 'Connection: close\r\n', 'Connection: keep-alive\r\n'];

/** oldWritten is the 204 head as HttpResponse.endNoContent built it as a string. */
function oldWritten(seq: number, name: string, value: string, connection: string): Buffer {
  const line = name === '' ? '' : `${name}: ${value}\r\n`;
  return Buffer.from(
    `HTTP/1.1 204 No Content\r\n${DATE_LINE}X-Distkv-Seq: ${String(seq)}\r\n${line}${connection}\r\n`,
    'latin1',
  );
}

/** oldValue is the 200 with a value as HttpResponse.endAscii built it as a string and a body. */
function oldValue(lag: string, etag: string, connection: string, body: Buffer): Buffer {
  const lines =
    (lag === '' ? '' : `X-Distkv-Lag: ${lag}\r\n`) +
    (etag === '' ? '' : `ETag: ${etag}\r\n`) +
    'Content-Type: application/octet-stream\r\n';
  const head = `HTTP/1.1 200 OK\r\n${DATE_LINE}${lines}Content-Length: ${body.length}\r\n${connection}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

function sink(): { sink: ExchangeSink; bytes: () => Buffer } {
  const prefixes = new ReplyPrefixes();
  const out: Buffer[] = [];
  return {
    sink: {
      send: (_res, data) =>
        out.push(typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data)),
      ended: () => undefined,
      needsDrain: () => false,
      destroy: () => undefined,
      dateLine: () => DATE_LINE,
      statusPrefix: (code) => prefixes.of(code, DATE_LINE),
      detach: () => undefined,
      awaitsBody: () => false,
    },
    bytes: () => Buffer.concat(out),
  };
}

describe('reply heads as bytes', () => {
  it('writes every number in decimal as String() does, at each digit boundary', () => {
    for (const n of NUMBERS) {
      assert.equal(decimalLength(n), String(n).length, `length of ${n}`);
      const out = Buffer.alloc(20, 0x7e);
      const end = putDecimal(out, 2, n);
      assert.equal(out.toString('latin1', 2, end), String(n));
      assert.equal(out[1], 0x7e, 'nothing written before');
      assert.equal(out[end], 0x7e, 'nothing written after');
    }
  });

  it("encodes a write's 204 exactly as the string head was, for every seq, line and Connection", () => {
    const prefixes = new ReplyPrefixes();
    const lines: [string, string][] = [
      ['', ''],
      ['ETag', '"0.1"'],
      ['ETag', `"${String(2 ** 32 - 1)}.${String(Number.MAX_SAFE_INTEGER)}"`],
      ['X-Distkv-Existed', '0'],
      ['X-Distkv-Existed', '1'],
    ];
    for (const seq of NUMBERS)
      for (const [name, value] of lines)
        for (const connection of CONNECTIONS)
          assert.deepEqual(
            encodeWritten(prefixes.of(204, DATE_LINE), seq, name, value, connection),
            oldWritten(seq, name, value, connection),
            `seq ${seq} ${name} ${connection}`,
          );
  });

  it("encodes a read's 200 exactly as the string head and body were, at body lengths 0 to 99999", () => {
    const prefixes = new ReplyPrefixes();
    for (const length of [0, 1, 9, 10, 99, 100, 16 * 1024, 99999]) {
      const body = Buffer.alloc(length);
      for (let i = 0; i < length; i++) body[i] = (i * 131) & 0xff;
      for (const lag of ['', '0', 'catching-up 12 340'])
        for (const etag of ['', '"0.7"', '"3.9007199254740991"'])
          for (const connection of CONNECTIONS)
            assert.deepEqual(
              encodeValue(prefixes.of(200, DATE_LINE), lag, etag, connection, body),
              oldValue(lag, etag, connection, body),
              `length ${length} lag ${lag} etag ${etag} ${connection}`,
            );
    }
  });

  it('rebuilds the prefixes when the Date line changes', () => {
    const prefixes = new ReplyPrefixes();
    assert.equal(prefixes.of(204, DATE_LINE).toString('latin1'), `HTTP/1.1 204 No Content\r\n${DATE_LINE}`);
    const next = 'Date: Tue, 01 Dec 2026 21:00:01 GMT\r\n';
    assert.equal(prefixes.of(200, next).toString('latin1'), `HTTP/1.1 200 OK\r\n${next}`);
    assert.equal(prefixes.of(204, next).toString('latin1'), `HTTP/1.1 204 No Content\r\n${next}`);
  });

  it('sends the same bytes from HttpResponse whether it encodes them or falls back to strings', () => {
    for (const [keepAlive, http10, connection] of [
      [true, false, ''],
      [false, false, 'Connection: close\r\n'],
      [true, true, 'Connection: keep-alive\r\n'],
    ] as const) {
      const fast = sink();
      new HttpResponse(fast.sink, 'PUT', keepAlive, http10).endNoContent(10, 'ETag', '"0.10"');
      assert.deepEqual(fast.bytes(), oldWritten(10, 'ETag', '"0.10"', connection));
      const body = Buffer.from('value');
      const read = sink();
      new HttpResponse(read.sink, 'GET', keepAlive, http10).endValue('', '"0.9"', body);
      assert.deepEqual(read.bytes(), oldValue('', '"0.9"', connection, body));
      // A value over the coalescing limit goes head, then body, through the string path.
      const large = Buffer.alloc(99999, 7);
      const big = sink();
      new HttpResponse(big.sink, 'GET', keepAlive, http10).endValue('5', '"0.9"', large);
      assert.deepEqual(big.bytes(), oldValue('5', '"0.9"', connection, large));
    }
    // HEAD answers the head alone, with the value's length.
    const head = sink();
    new HttpResponse(head.sink, 'HEAD', true, false).endValue('', '"0.9"', Buffer.from('value'));
    assert.deepEqual(head.bytes(), oldValue('', '"0.9"', '', Buffer.alloc(5)).subarray(0, -5));
  });
});
