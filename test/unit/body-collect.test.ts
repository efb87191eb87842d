/**
 * Collecting a request body (src/http/body.ts, collectBody) from the pieces its connection hands
 * over: whatever the cut (one piece, many, empty ones, pieces of one byte as a chunked body of
 * one-byte chunks gives them), the route gets the exact bytes; and a body of a million one-byte
 * pieces costs the heap about nothing beyond the body, not a Buffer per piece.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { collectBody } from '../../src/http/body.js';
import { type ExchangeSink, HttpResponse } from '../../src/http/http1-exchange.js';

const sink: ExchangeSink = {
  send: () => undefined,
  ended: () => undefined,
  needsDrain: () => false,
  destroy: () => undefined,
  dateLine: () => '',
  detach: () => undefined,
  awaitsBody: () => true,
};

/** collect feeds `pieces` (views of one input buffer, as a connection's are) and returns what onBody got. */
function collect(body: Buffer, cuts: number[], contentLength: number, limit: number): Buffer | undefined {
  const res = new HttpResponse(sink, 'PUT', true, false);
  let got: Buffer | undefined;
  collectBody(res, contentLength, limit, 'body', (b) => {
    got = Buffer.from(b);
  });
  let at = 0;
  for (const n of cuts) {
    res.deliver(body.subarray(at, at + n), false);
    at += n;
  }
  res.deliver(body.subarray(at), true);
  return got;
}

describe('collecting a request body', () => {
  it('hands the route the exact bytes however the body is cut, with or without a Content-Length', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 70000 }),
        fc.array(fc.nat({ max: 20000 }), { maxLength: 12 }),
        fc.boolean(),
        (bytes, rawCuts, declared) => {
          const body = Buffer.from(bytes);
          const cuts: number[] = [];
          let left = body.length;
          for (const c of rawCuts) {
            const n = Math.min(c, left);
            cuts.push(n);
            left -= n;
          }
          const got = collect(body, cuts, declared ? body.length : -1, 70000);
          assert.ok(got !== undefined, 'onBody was called');
          assert.equal(got.length, body.length);
          assert.ok(got.equals(body), 'the same bytes');
        },
      ),
      { numRuns: 200, seed: 55, verbose: true },
    );
  });

  it('gathers a body of 400,000 one-byte pieces without a heap object per piece', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const n = 400_000;
    const input = Buffer.alloc(n, 'x');
    const res = new HttpResponse(sink, 'PUT', true, false);
    let got: Buffer | undefined;
    collectBody(res, -1, 16 * 1024 * 1024, 'body', (b) => {
      got = Buffer.from(b);
    });
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < n - 1; i++) res.deliver(input.subarray(i, i + 1), false);
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    res.deliver(input.subarray(n - 1), true);
    // A Buffer kept per piece was ~100 bytes of heap each: 40 MB here; one buffer is outside the heap.
    assert.ok(grown < 8 * 1024 * 1024, `the heap grew by ${grown} bytes while the body arrived`);
    assert.ok(got?.equals(input), 'the whole body');
  });
});
