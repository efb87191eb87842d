/**
 * A seeded, shrinking model test of one HTTP/1.1 connection (src/http/http1-connection.ts):
 * random pipelines of reads that answer after random delays, writes with bodies (Content-Length
 * or chunked) and reads of what was written, sent as one byte stream cut at random places. The
 * model: every request is answered once, in order, and a read sees every write sent before it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { Http1Server } from '../../src/http/http1-server.js';
import { Router } from '../../src/http/router.js';
import { startRouterServer } from '../helpers/router-server.js';
import { exchange } from './http-raw-wire.js';

let port = 0;
let server: Http1Server;
const store = new Map<string, string>();
let writes = Promise.resolve();

before(async () => {
  const router = new Router();
  const delayed = (ms: number, fn: () => void): void => {
    setTimeout(fn, ms);
  };
  router.get('/echo', (res, req) => {
    const q = new URLSearchParams(req.getQuery());
    delayed(Number(q.get('ms')), () => {
      if (!res.aborted) res.end(`echo ${q.get('i') ?? ''}`);
    });
  });
  router.put('/store/*', (res, req) => {
    const key = req.getUrl().slice(7);
    const ms = Number(new URLSearchParams(req.getQuery()).get('ms'));
    const parts: Buffer[] = [];
    res.onData((chunk, isLast) => {
      parts.push(Buffer.from(chunk));
      if (!isLast) return;
      // Applied later but in arrival order, as a store applies its log; answered once applied.
      const value = Buffer.concat(parts).toString();
      writes = writes.then(
        () =>
          new Promise<void>((resolve) => {
            delayed(ms, () => {
              store.set(key, value);
              if (!res.aborted) res.writeStatus('204 No Content').endWithoutBody();
              resolve();
            });
          }),
      );
    });
  });
  router.get('/store/*', (res, req) => {
    const v = store.get(req.getUrl().slice(7));
    if (v === undefined) res.writeStatus('404 Not Found').end('missing');
    else res.end(`value ${v}`);
  });
  ({ port, server } = await startRouterServer(router));
});

after(() => {
  server.close();
  server.destroyConnections();
});

type Op =
  | { kind: 'echo'; ms: number }
  | { kind: 'put'; key: string; value: string; ms: number; chunked: boolean }
  | { kind: 'get'; key: string };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('echo' as const), ms: fc.integer({ min: 0, max: 8 }) }),
  fc.record({
    kind: fc.constant('put' as const),
    key: fc.constantFrom('a', 'b', 'c'),
    value: fc.string({ unit: fc.constantFrom('x', 'y', 'z', '\r', '\n', ' '), maxLength: 40 }),
    ms: fc.integer({ min: 0, max: 8 }),
    chunked: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('get' as const), key: fc.constantFrom('a', 'b', 'c') }),
);

function encode(op: Op, i: number, run: number): string {
  if (op.kind === 'echo') return `GET /echo?i=${i}&ms=${op.ms} HTTP/1.1\r\nHost: m\r\n\r\n`;
  if (op.kind === 'get') return `GET /store/${run}-${op.key} HTTP/1.1\r\nHost: m\r\n\r\n`;
  const path = `/store/${run}-${op.key}?ms=${op.ms}`;
  if (!op.chunked)
    return `PUT ${path} HTTP/1.1\r\nHost: m\r\nContent-Length: ${op.value.length}\r\n\r\n${op.value}`;
  const half = Math.floor(op.value.length / 2);
  const chunks = [op.value.slice(0, half), op.value.slice(half)].filter((c) => c.length > 0);
  const body = chunks.map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join('');
  return `PUT ${path} HTTP/1.1\r\nHost: m\r\nTransfer-Encoding: chunked\r\n\r\n${body}0\r\n\r\n`;
}

describe('one connection against its model', () => {
  it('answers every pipelined request once, in order, reads seeing the writes before them (seeded)', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (ops, cutsRaw) => {
          run++;
          const wire = Buffer.from(ops.map((op, i) => encode(op, i, run)).join(''));
          const cuts = [...new Set(cutsRaw.map((c) => c % wire.length))].sort((a, b) => a - b);
          const pieces = [0, ...cuts, wire.length]
            .slice(1)
            .map((to, k, all) => wire.subarray(k === 0 ? 0 : all[k - 1], to))
            .filter((p) => p.length > 0);
          const model = new Map<string, string>();
          const expected = ops.map((op, i) => {
            if (op.kind === 'echo') return `200 echo ${i}`;
            if (op.kind === 'put') {
              model.set(op.key, op.value);
              return '204 ';
            }
            const v = model.get(op.key);
            return v === undefined ? '404 missing' : `200 value ${v}`;
          });
          const r = await exchange(port, pieces, { count: ops.length, timeoutMs: 10000 });
          assert.deepEqual(
            r.responses.map((x) => `${x.status} ${x.body.toString()}`),
            expected,
          );
        },
      ),
      { seed: 2026, numRuns: 60 },
    );
  });
});
