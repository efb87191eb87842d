/**
 * A TCP proxy that can be cut, for partition tests (docs/failover.md, automatic failover): it
 * forwards each connection to the target until `cut()`, which drops every open connection and
 * resets new ones at once (the path is down, the proxy's port stays bound); `heal()` forwards again.
 *
 * A connection that is closing already (its peer's FIN arrived and the socket, or the pipe to its
 * pair, called `end()`) is closed, not reset: libuv refuses a reset while a shutdown is pending
 * (uv_tcp_close_reset: EINVAL), and Node 20 then marks the handle closing without closing it. Its
 * process, once its tests are done, spins at exit for ever (Node's exit runs the loop until every
 * handle is closed), as test/e2e/failover-partition.test.ts was seen to after it passed
 * (test/e2e/cut-proxy-exit.test.ts).
 */
import { createServer, type Socket } from 'node:net';
import { pairUpstream } from './proxy-pair.js';

/** CutProxy is a running cuttable proxy; `url` is its http:// address. */
export interface CutProxy {
  readonly url: string;
  cut(): void;
  heal(): void;
  close(): Promise<void>;
}

/** startCutProxy listens on a free port of `listenHost` and forwards to targetHost:targetPort. */
export function startCutProxy(listenHost: string, targetHost: string, targetPort: number): Promise<CutProxy> {
  const sockets = new Set<Socket>();
  let down = false;
  const server = createServer({ noDelay: true }, (client) => {
    if (down) {
      drop(client);
      return;
    }
    const { upstream } = pairUpstream(client, targetHost, targetPort, sockets);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const dropAll = (): void => {
    for (const s of sockets) drop(s);
    sockets.clear();
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, listenHost, () => {
      const { port } = server.address() as { port: number };
      resolve({
        url: `http://${listenHost}:${port}`,
        cut: () => {
          down = true;
          dropAll();
        },
        heal: () => {
          down = false;
        },
        close: () =>
          new Promise<void>((done) => {
            dropAll();
            server.close(() => {
              done();
            });
          }),
      });
    });
  });
}

/** drop resets `s`, or destroys it once its write side has ended (a shutdown may be pending: see above). */
function drop(s: Socket): void {
  if (s.writableEnded) s.destroy();
  else s.resetAndDestroy();
}
