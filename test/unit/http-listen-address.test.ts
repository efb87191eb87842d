/**
 * A listener that cannot bind names the address it tried to bind. With `--listen` a node binds
 * another address than its config's (a proxy or port mapping in front), and the refusal named
 * only the node's: `--listen 127.0.0.1:8080` on a port in use said "cannot listen on
 * 127.0.0.1:18110: the port is in use", a port that was free, and `--listen 10.0.0.9:18110` said
 * "127.0.0.1:18110: the address is not on this machine" of a loopback address.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Http1Server } from '../../src/http/http1-server.js';
import { Router } from '../../src/http/router.js';
import { freePort } from '../helpers/ports.js';

/** serverAt is an Http1Server binding `port` on loopback for the node `address`. */
function serverAt(port: number, address: string): Http1Server {
  return new Http1Server({
    host: '127.0.0.1',
    port,
    address,
    router: new Router(),
    observer: { started: () => undefined, finished: () => undefined },
    log: pino({ level: 'silent' }),
  });
}

describe('a listener that cannot bind', () => {
  let busy: Server;
  let port = 0;

  before(async () => {
    busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    port = (busy.address() as { port: number }).port;
  });

  after(async () => {
    await new Promise((r) => busy.close(r));
  });

  it('names the address it binds and the node when --listen binds another', async () => {
    const node = `127.0.0.1:${String(await freePort())}`;
    await assert.rejects(serverAt(port, node).listen(), {
      code: 'UNAVAILABLE',
      message: `cannot listen on 127.0.0.1:${String(port)} (--listen, for node ${node}): the port is in use (is another distkv or another server running there?)`,
    });
  });

  it("names the node's address alone when it binds that address", async () => {
    await assert.rejects(serverAt(port, `127.0.0.1:${String(port)}`).listen(), {
      code: 'UNAVAILABLE',
      message: `cannot listen on 127.0.0.1:${String(port)}: the port is in use (is another distkv or another server running there?)`,
    });
  });
});
