/**
 * A RawDriver whose connection is reset answers the operation in flight once (status 0) and the
 * next one with the server's answer. A reset emits 'error' then 'close' on the socket, and both
 * failed "the operation in flight": the 'close' came after the caller had issued its next
 * operation on a new connection, so that one was failed too while its request was on the wire.
 * The next operation then went out behind it on the same connection: from there on every
 * operation was answered by its predecessor's response (its latency cut short) and the run
 * counted two connection errors per reset (and per refused connection while a server was down).
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { OP_GET, RawDriver } from '../../src/loadgen/driver.js';
import { httpWire, RequestCache } from '../../src/loadgen/wire.js';
import { freePort } from '../helpers/ports.js';

let server: Server;
let port = 0;
let connections = 0;
/** mostPending is the most requests one connection had waiting for an answer at once. */
let mostPending = 0;
const sockets: Socket[] = [];

before(async () => {
  port = await freePort();
  server = createServer((s) => {
    sockets.push(s);
    const n = ++connections;
    let pending = 0;
    s.on('data', (d) => {
      // The first connection is reset at its first request; later ones answer each request after 30 ms.
      if (n === 1) {
        s.resetAndDestroy();
        return;
      }
      const requests = d.toString('latin1').split('\r\n\r\n').length - 1;
      pending += requests;
      mostPending = Math.max(mostPending, pending);
      for (let i = 0; i < requests; i++)
        setTimeout(() => {
          pending--;
          if (!s.destroyed) s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
        }, 30);
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
});

after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
});

describe('RawDriver after a connection reset', () => {
  it('fails only the operation in flight, and answers the next one with its own response', async () => {
    const wire = httpWire(`127.0.0.1:${port}`);
    const driver = new RawDriver('127.0.0.1', port, wire, new RequestCache(wire, 'k', 10, Buffer.from('v')));
    const statuses: number[] = [];
    await new Promise<void>((resolve) => {
      let ops = 0;
      const next = (): void => {
        if (++ops > 4) {
          resolve();
          return;
        }
        driver.op(OP_GET, ops, (status) => {
          statuses.push(status);
          next();
        });
      };
      next();
    });
    // Let a late 'close' or a stray answer show up before looking.
    await new Promise((r) => setTimeout(r, 200));
    driver.close();
    assert.deepEqual(statuses, [0, 200, 200, 200]);
    assert.equal(mostPending, 1, 'one request at a time on a connection');
    assert.equal(connections, 2);
  });
});
