/**
 * The WebSocket framing of the watch endpoint (src/http/websocket-format.ts): client frames parsed
 * whatever the chunking, fragments joined, control frames between fragments, and every refusal
 * with its close code.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  acceptKey,
  encodeClose,
  encodeFrame,
  isValidKey,
  OP_BINARY,
  OP_CLOSE,
  OP_CONTINUATION,
  OP_PING,
  OP_TEXT,
  type WsMessage,
  WsParser,
  WsProtocolError,
} from '../../src/http/websocket-format.js';

function clientFrame(op: number, payload: Buffer, fin = true, first = 0): Buffer {
  const mask = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  const len = payload.length;
  const head =
    len < 126
      ? Buffer.from([(fin ? 0x80 : 0) | first | op, 0x80 | len])
      : len <= 0xffff
        ? Buffer.from([(fin ? 0x80 : 0) | first | op, 0x80 | 126, len >> 8, len & 0xff])
        : Buffer.from([
            (fin ? 0x80 : 0) | first | op,
            0x80 | 127,
            0,
            0,
            0,
            0,
            len >>> 24,
            (len >> 16) & 0xff,
            (len >> 8) & 0xff,
            len & 0xff,
          ]);
  return Buffer.concat([head, mask, Buffer.from(payload.map((b, i) => b ^ mask[i & 3]!))]);
}

function refusal(bytes: Buffer, max = 1024): number {
  try {
    new WsParser(max).push(bytes);
  } catch (err) {
    assert.ok(err instanceof WsProtocolError);
    return err.code;
  }
  return 0;
}

describe('websocket-format', () => {
  it('computes the accept key of RFC 6455 and checks keys', () => {
    assert.equal(acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    assert.ok(isValidKey('dGhlIHNhbXBsZSBub25jZQ=='));
    assert.ok(!isValidKey('short'));
  });

  it('parses masked frames fed one byte at a time, joining fragments around a ping', () => {
    const bytes = Buffer.concat([
      clientFrame(OP_TEXT, Buffer.from('héllo '), false),
      clientFrame(OP_PING, Buffer.from('p')),
      clientFrame(OP_CONTINUATION, Buffer.from('wörld'), true),
      clientFrame(OP_BINARY, Buffer.alloc(300, 7)),
      clientFrame(OP_CLOSE, Buffer.from([0x03, 0xe8, 0x62, 0x79, 0x65])),
    ]);
    const p = new WsParser(1024);
    const got: WsMessage[] = [];
    for (let i = 0; i < bytes.length; i++) got.push(...p.push(bytes.subarray(i, i + 1)));
    assert.deepEqual(
      got.map((m) => m.kind),
      ['ping', 'text', 'binary', 'close'],
    );
    assert.deepEqual(got[1], { kind: 'text', text: 'héllo wörld' });
    assert.equal((got[2] as { data: Buffer }).data.length, 300);
    assert.deepEqual(got[3], { kind: 'close', code: 1000, reason: 'bye' });
  });

  it('reads a 64-bit length and an empty close', () => {
    const p = new WsParser(1 << 20);
    const [m] = p.push(clientFrame(OP_BINARY, Buffer.alloc(70000, 1)));
    assert.equal((m as { data: Buffer }).data.length, 70000);
    assert.deepEqual(p.push(clientFrame(OP_CLOSE, Buffer.alloc(0))), [
      { kind: 'close', code: 1005, reason: '' },
    ]);
  });

  it('refuses hostile frames with the right close code', () => {
    const unmasked = Buffer.from([0x81, 0x02, 0x68, 0x69]);
    assert.equal(refusal(unmasked), 1002);
    assert.equal(refusal(clientFrame(OP_TEXT, Buffer.from('x'), true, 0x20)), 1002);
    assert.equal(refusal(clientFrame(0x0b, Buffer.alloc(0))), 1002);
    assert.equal(refusal(clientFrame(OP_PING, Buffer.alloc(126))), 1002);
    assert.equal(refusal(clientFrame(OP_PING, Buffer.alloc(1), false)), 1002);
    assert.equal(refusal(clientFrame(OP_CONTINUATION, Buffer.from('x'))), 1002);
    assert.equal(
      refusal(
        Buffer.concat([
          clientFrame(OP_TEXT, Buffer.from('a'), false),
          clientFrame(OP_TEXT, Buffer.from('b')),
        ]),
      ),
      1002,
    );
    assert.equal(refusal(clientFrame(OP_TEXT, Buffer.from([0xff]))), 1007);
    assert.equal(refusal(clientFrame(OP_CLOSE, Buffer.from([0x03]))), 1002);
    assert.equal(
      refusal(clientFrame(OP_CLOSE, Buffer.from([0x03, 0xed]))),
      1002,
      'code 1005 may not be sent',
    );
    assert.equal(refusal(clientFrame(OP_CLOSE, Buffer.from([0x03, 0xe8, 0xff]))), 1007);
    assert.equal(refusal(clientFrame(OP_BINARY, Buffer.alloc(1025))), 1009);
    // Fragments count toward the message limit together.
    assert.equal(
      refusal(
        Buffer.concat([
          clientFrame(OP_BINARY, Buffer.alloc(600), false),
          clientFrame(OP_CONTINUATION, Buffer.alloc(600)),
        ]),
      ),
      1009,
    );
    const huge = Buffer.from([0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0]);
    assert.equal(refusal(huge), 1009);
  });

  it('encodes server frames unmasked with the shortest length form', () => {
    assert.deepEqual([...encodeFrame(OP_TEXT, Buffer.from('hi'))], [0x81, 2, 0x68, 0x69]);
    const mid = encodeFrame(OP_BINARY, Buffer.alloc(200));
    assert.deepEqual([...mid.subarray(0, 4)], [0x82, 126, 0, 200]);
    const big = encodeFrame(OP_BINARY, Buffer.alloc(70000));
    assert.equal(big[1], 127);
    assert.equal(big.readUInt32BE(6), 70000);
    const close = encodeClose(4000, 'resume');
    assert.equal(close[0], 0x88);
    assert.equal(close.readUInt16BE(2), 4000);
    assert.equal(close.subarray(4).toString(), 'resume');
  });
});
