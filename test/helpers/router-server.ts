/**
 * An HTTP/1 server (src/http/http1-server.ts) on a free loopback port serving one router, with no
 * observer and no log: for tests that run routes over real connections without a node.
 */
import { pino } from 'pino';
import { Http1Server } from '../../src/http/http1-server.js';
import type { Router } from '../../src/http/router.js';
import { freePort } from './ports.js';

/** RouterServer is a listening server and its port. */
export interface RouterServer {
  port: number;
  server: Http1Server;
}

/** startRouterServer starts a server of `router` on a free loopback port. */
export async function startRouterServer(router: Router): Promise<RouterServer> {
  const port = await freePort();
  const server = new Http1Server({
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    router,
    observer: { started: () => undefined, finished: () => undefined },
    log: pino({ level: 'silent' }),
  });
  await server.listen();
  return { port, server };
}
