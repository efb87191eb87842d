/**
 * A TCP proxy that adds latency, for tests and benchmarks where `tc netem` is not available (design
 * section 9): every chunk the target sends back is held for `delayMs` before it is forwarded (one
 * direction, as netem on one interface would), in order. `delayMs = 0` forwards at once, which
 * measures the proxy's own cost.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { pairUpstream } from './proxy-pair.js';

/** ProxyOptions configure startDelayProxy. */
export interface ProxyOptions {
  listenHost: string;
  listenPort: number;
  targetHost: string;
  targetPort: number;
  delayMs: number;
}

/** DelayProxy is a running proxy. */
export interface DelayProxy {
  close(): Promise<void>;
}

/** startDelayProxy listens on listenHost:listenPort and forwards each connection to the target. */
export function startDelayProxy(o: ProxyOptions): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ noDelay: true }, (client) => {
    const { upstream } = pairUpstream(client, o.targetHost, o.targetPort, sockets, o.delayMs + 1);
    client.pipe(upstream);
    if (o.delayMs <= 0) upstream.pipe(client);
    else
      upstream.on('data', (chunk: Buffer) => {
        setTimeout(() => {
          if (!client.destroyed) client.write(chunk);
        }, o.delayMs);
      });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.listenPort, o.listenHost, () => {
      resolve({
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => {
              done();
            });
          }),
      });
    });
  });
}
