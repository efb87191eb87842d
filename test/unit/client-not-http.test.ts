/**
 * A client (and so the CLI) pointed at a node's RESP port by mistake: `npm start` prints the RESP
 * address next to the HTTP one, and `DISTKV_URL=127.0.0.1:9080` is an easy slip. The port answers
 * in RESP, which undici reports as "Response does not match the HTTP/1.1 protocol (Expected HTTP/,
 * RTSP/ or ICE/)": true, but no help. The error now says that the node answered in RESP, not in
 * HTTP, and that a node's RESP port is its HTTP port + server.resp_port_offset.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, describe, it } from 'node:test';
import type { AddressInfo } from 'node:net';
import { DistkvClient } from '../../src/client/client.js';

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

/** startRespLike answers every request as a RESP listener answers an HTTP request line. */
async function startRespLike(): Promise<string> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => {
      socket.end("-ERR wrong number of arguments for 'get' command\r\n");
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('client pointed at a port that does not speak HTTP', () => {
  for (const [what, call] of [
    ['a key read', (c: DistkvClient) => c.get('k')],
    ['the cluster view', (c: DistkvClient) => c.cluster()],
  ] as const) {
    it(`says the node answered in RESP and names the RESP port offset (${what})`, async () => {
      const node = await startRespLike();
      const client = new DistkvClient({ urls: [node], retries: 0 });
      try {
        await assert.rejects(call(client), (err: Error) => {
          assert.match(err.message, /answered in RESP \(the Redis protocol\), not in HTTP/);
          assert.match(err.message, /resp_port_offset/);
          return true;
        });
      } finally {
        await client.close();
      }
    });
  }
});
