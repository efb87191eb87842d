/**
 * An HTTP/1 server (src/http/http1-server.ts) on a free loopback port serving one router, with no
 * observer and no log unless given: for tests that run routes over real connections without a node.
 */
import { pino } from 'pino';
import { Http1Server, type Http1ServerOptions } from '../../src/http/http1-server.js';
import type { Router } from '../../src/http/router.js';
import { freePort } from './ports.js';

/** RouterServer is a listening server and its port. */
export interface RouterServer {
  port: number;
  server: Http1Server;
}

/** ServerOverrides are the server options a test may set (limits, an observer). */
export type ServerOverrides = Partial<Omit<Http1ServerOptions, 'host' | 'port' | 'address' | 'router'>>;

/** startRouterServer starts a server of `router` on a free loopback port, with `overrides`. */
export async function startRouterServer(
  router: Router,
  overrides: ServerOverrides = {},
): Promise<RouterServer> {
  const port = await freePort();
  const server = new Http1Server({
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    router,
    observer: { started: () => undefined, finished: () => undefined },
    log: pino({ level: 'silent' }),
    ...overrides,
  });
  await server.listen();
  return { port, server };
}
