/**
 * Free loopback ports for tests: each test binds its own, so test files can run in parallel.
 */
import { mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

/**
 * RESERVED_DIR holds a file per port a test process of this machine was handed (its pid inside),
 * made with O_EXCL: test files run two at a time (CI), each in its own process, and a port free when
 * one checked it could be the one another process had just handed to a node still starting, which
 * then failed with "the port is in use" (resp-scan-large, once in a CI run beside other test runs).
 * The files go when the process exits; a file whose process is gone (killed) is taken over.
 */
const RESERVED_DIR = join(tmpdir(), 'distkv-test-ports');
const reservedFiles: string[] = [];
process.on('exit', () => {
  for (const f of reservedFiles)
    try {
      unlinkSync(f);
    } catch {
      // already gone
    }
});

/** alive reports whether process `pid` still runs. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * heldElsewhere reports whether reservation `file` is held: by this process, by a live one, or being
 * written (empty: its maker has created it and not yet written its pid; taken as abandoned only after
 * EMPTY_STALE_MS). A file removed meanwhile is not held.
 */
function heldElsewhere(file: string): boolean {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return false;
  }
  const holder = Number(text);
  if (text === '' || !Number.isInteger(holder) || holder <= 0) {
    try {
      return Date.now() - statSync(file).mtimeMs < EMPTY_STALE_MS;
    } catch {
      return false;
    }
  }
  return holder === process.pid || alive(holder);
}

/** EMPTY_STALE_MS is how old an empty reservation file must be to be taken as abandoned. */
const EMPTY_STALE_MS = 10_000;

/**
 * reserve takes `port` for this process among the test processes of the machine (RESERVED_DIR);
 * false when another live one holds it. A directory that cannot be written reserves nothing (true:
 * the bind checks still apply).
 */
function reserve(port: number): boolean {
  const file = join(RESERVED_DIR, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      mkdirSync(RESERVED_DIR, { recursive: true });
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      reservedFiles.push(file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return true;
      if (heldElsewhere(file)) return false;
      try {
        unlinkSync(file);
      } catch {
        // another process took it over first: the next attempt says whose it is
      }
    }
  }
  return false;
}

/** release gives back a reservation of this process (a port whose twin could not be reserved). */
function release(port: number): void {
  const file = join(RESERVED_DIR, String(port));
  const i = reservedFiles.indexOf(file);
  if (i < 0) return;
  reservedFiles.splice(i, 1);
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

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
      if (!reserve(port)) continue;
      if (!reserve(port + RESP_PORT_OFFSET)) {
        release(port);
        continue;
      }
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

/** closedAddress is a loopback `host:port` nothing listens on (a dead node), from freePort. */
export async function closedAddress(): Promise<string> {
  return `127.0.0.1:${await freePort()}`;
}
