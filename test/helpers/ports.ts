/**
 * Free loopback ports for tests: each test binds its own, so test files can run in parallel.
 */
import { createServer } from 'node:net';

/** RESP_PORT_OFFSET is the default `server.resp_port_offset`: a node also listens on its HTTP port + this. */
const RESP_PORT_OFFSET = 1000;

/** canBind reports whether `port` can be bound on `host` right now. */
function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', () => {
      resolve(false);
    });
    srv.listen(port, host, () => {
      srv.close(() => {
        resolve(true);
      });
    });
  });
}

/**
 * freePort returns a TCP port that is free on `host` right now, and whose RESP twin (port +
 * RESP_PORT_OFFSET, where a spawned node also listens by default) is free too.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (;;) {
    const port = await anyFreePort(host);
    if (port + RESP_PORT_OFFSET <= 65535 && (await canBind(port + RESP_PORT_OFFSET, host))) return port;
  }
}

function anyFreePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr !== null && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('freePort: no address'));
      });
    });
  });
}

/** freePorts returns `n` distinct free ports. */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort(host));
  return [...ports];
}
