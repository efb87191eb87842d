/**
 * Free loopback ports for tests: each test binds its own, so test files can run in parallel.
 */
import { readFileSync } from 'node:fs';
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

/** LOWEST_PORT is where test ports start (above the well-known and most registered service ports). */
const LOWEST_PORT = 10000;

/**
 * ephemeralStart is the first port the kernel gives to outgoing connections (Linux's
 * ip_local_port_range). A listener on a port in that range can fail with EADDRINUSE when a
 * connection of another test took it as its source port between the check and the listen: test
 * ports are taken below it.
 */
function ephemeralStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32768;
  } catch {
    return 32768;
  }
}

/**
 * handedOut holds every port freePort returned in this process, and its RESP twin: a port free
 * now may be one a test was just given and has not bound yet. Without it, two nodes of one test
 * could be given P and P + RESP_PORT_OFFSET, and the second's HTTP listener then found the
 * first's RESP listener on its port ("the port is in use").
 */
const handedOut = new Set<number>();

/** clashes reports whether `port` or its RESP twin is a port (or twin) already handed out. */
function clashes(port: number): boolean {
  return handedOut.has(port) || handedOut.has(port + RESP_PORT_OFFSET);
}

/**
 * freePort returns a TCP port that is free on `host` right now, and whose RESP twin (port +
 * RESP_PORT_OFFSET, where a spawned node also listens by default) is free too, neither of them
 * handed out before in this process (handedOut). Both are below the kernel's range for outgoing
 * connections' source ports (see ephemeralStart), picked at random so test files running in
 * parallel rarely try the same one; where that range leaves too little room below it, any free
 * port the kernel gives.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const top = ephemeralStart() - RESP_PORT_OFFSET;
  for (let attempt = 0; attempt < 1000; attempt++) {
    const port =
      top - LOWEST_PORT >= 1000
        ? LOWEST_PORT + Math.floor(Math.random() * (top - LOWEST_PORT))
        : await anyFreePort(host);
    if (port + RESP_PORT_OFFSET > 65535 || clashes(port)) continue;
    if ((await canBind(port, host)) && (await canBind(port + RESP_PORT_OFFSET, host))) {
      // Checked again: a concurrent freePort of this process may have taken it meanwhile.
      if (clashes(port)) continue;
      handedOut.add(port);
      handedOut.add(port + RESP_PORT_OFFSET);
      return port;
    }
  }
  throw new Error('freePort: no free port pair found in 1000 tries');
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
