/**
 * A request body that arrives in several chunks reaches its route whole and byte-exact
 * (src/http/body.ts): with a Content-Length, the chunks are copied into one buffer of that length
 * as they arrive (a copy of each chunk, then of them joined, was two copies into fresh memory per
 * large PUT); a chunked body is joined as before. Chunks are views the connection reuses: the test
 * overwrites each one after it is handed over. Sizes span 1 byte to 1 MiB, chunk edges included.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collectBody } from '../../src/http/body.js';
import { type ExchangeSink, HttpResponse } from '../../src/http/http1-exchange.js';

const sink: ExchangeSink = {
  send: () => undefined,
  ended: () => undefined,
  needsDrain: () => false,
  destroy: () => undefined,
  dateLine: () => 'Date: Mon, 30 Nov 2026 07:00:00 GMT\r\n',
  detach: () => undefined,
  awaitsBody: () => false,
};

/** feed hands `body` to collectBody in chunks of `chunk` bytes, each a reused buffer, and returns what onBody got. */
function feed(body: Buffer, chunk: number, declared: number): Buffer | undefined {
  const res = new HttpResponse(sink, 'PUT', true, false);
  let got: Buffer | undefined;
  collectBody(res, declared, 1024 * 1024, 'value', (b) => {
    got = Buffer.from(b);
  });
  const scratch = Buffer.alloc(chunk);
  for (let at = 0; at < body.length || at === 0; at += chunk) {
    const n = Math.min(chunk, body.length - at);
    body.copy(scratch, 0, at, at + n);
    res.deliver(scratch.subarray(0, n), at + n >= body.length);
    scratch.fill(0xee);
    if (body.length === 0) break;
  }
  return got;
}

describe('a request body in chunks', () => {
  it('reaches the route whole and byte-exact, with a Content-Length or chunked, at every size', () => {
    const sizes = [1, 2, 4095, 4096, 4097, 65535, 65536, 65537, 1024 * 1024 - 1, 1024 * 1024];
    for (const size of sizes) {
      const body = Buffer.allocUnsafe(size);
      for (let i = 0; i < size; i++) body[i] = (i * 131 + size) & 0xff;
      for (const chunk of [1000, 4096, 65536, size]) {
        if (chunk < size / 2000) continue;
        for (const declared of [size, -1]) {
          const got = feed(body, chunk, declared);
          assert.ok(got?.equals(body), `${size} bytes in chunks of ${chunk}, declared ${declared}`);
        }
      }
    }
  });
});
