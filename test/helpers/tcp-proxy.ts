/**
 * A TCP proxy that adds latency, for tests and benchmarks where `tc netem` is not available (design
 * section 9): every chunk the target sends back is held for `delayMs` before it is forwarded (one
 * direction, as netem on one interface would), in order. `delayMs = 0` forwards at once, which
 * measures the proxy's own cost.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

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
    const upstream = connect({ host: o.targetHost, port: o.targetPort, noDelay: true });
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    if (o.delayMs <= 0) upstream.pipe(client);
    else
      upstream.on('data', (chunk: Buffer) => {
        setTimeout(() => {
          if (!client.destroyed) client.write(chunk);
        }, o.delayMs);
      });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', () => setTimeout(end, o.delayMs + 1));
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
