/**
 * A RawDriver gives up on an operation that gets no answer within its timeout: it reports it as
 * STATUS_TIMEOUT and drops the connection, and the next operation goes on a new one. Without a
 * timeout, a node that accepts a connection and never answers held that connection silently for
 * the rest of the run (nothing counted until the end, the closed loop one connection short).
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { OP_GET, RawDriver, STATUS_TIMEOUT } from '../../src/loadgen/driver.js';
import { httpWire, RequestCache } from '../../src/loadgen/wire.js';
import { freePort } from '../helpers/ports.js';

let server: Server;
let port = 0;
let connections = 0;
const sockets: Socket[] = [];

before(async () => {
  port = await freePort();
  server = createServer((s) => {
    sockets.push(s);
    // The first connection never answers; later ones answer each request.
    if (++connections === 1) return;
    s.on('data', () => s.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nv'));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
});

after(() => {
  for (const s of sockets) s.destroy();
  server.close();
});

const op = (d: RawDriver): Promise<number> =>
  new Promise((resolve) => {
    d.op(OP_GET, 1, resolve);
  });

describe('load generator raw driver timeout', () => {
  it('reports an unanswered operation as a timeout and goes on over a new connection', async () => {
    const wire = httpWire(`127.0.0.1:${port}`);
    const d = new RawDriver('127.0.0.1', port, wire, new RequestCache(wire, 'k', 10, Buffer.from('v')), 200);
    try {
      const t0 = performance.now();
      const hung = new Promise((r) => {
        setTimeout(() => {
          r('hung');
        }, 3000).unref();
      });
      const first = await Promise.race([op(d), hung]);
      assert.equal(first, STATUS_TIMEOUT, 'the unanswered operation was not given up on');
      assert.ok(performance.now() - t0 >= 190, 'gave up before its timeout');
      assert.equal(await op(d), 200);
      assert.equal(connections, 2);
    } finally {
      d.close();
    }
  });
});
