/**
 * The in-process fixture of the raw-socket suites: an HTTP/1.1 server (src/http/http1-*.ts) on a
 * free loopback port with routes that answer now, later (out of order), stream, store bodies or
 * throw, and counters of what the routes saw.
 */
import type { HttpResponse } from '../../src/http/http1-exchange.js';
import type { Http1Server } from '../../src/http/http1-server.js';
import { Router } from '../../src/http/router.js';
import type { ConnectionLimit } from '../../src/server/connection-limit.js';
import { startRouterServer } from '../helpers/router-server.js';

/** Counts is what the fixture's routes and observer saw. */
export interface Counts {
  started: number;
  finished: number;
  aborted: number;
  bodies: number;
  /** maxWaiting is the most requests waiting on a timer at once (reset it before a test). */
  maxWaiting: number;
}

/** ServerLimits are the time limits a test may shorten, and the connection count it may watch. */
export interface ServerLimits {
  idleTimeoutMs?: number;
  headTimeoutMs?: number;
  connections?: ConnectionLimit;
}

/** TestServer is a running fixture server. */
export interface TestServer {
  port: number;
  server: Http1Server;
  store: Map<string, string>;
  counts: Counts;
  /**
   * startExtra starts another server with the same routes (to close it, or with other limits);
   * `exchanges` counts the requests its routes started and finished.
   */
  startExtra(options: ServerLimits): Promise<ExtraServer>;
  stop(): void;
}

/** ExtraServer is a server of the fixture's routes started by `startExtra`. */
export interface ExtraServer {
  port: number;
  server: Http1Server;
  exchanges: { started: number; finished: number };
}

/** get and put format raw requests. */
export const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`;
export const put = (path: string, body: string): string =>
  `PUT ${path} HTTP/1.1\r\nHost: t\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

/** startTestServer starts the fixture server. */
export async function startTestServer(): Promise<TestServer> {
  const store = new Map<string, string>();
  const counts: Counts = { started: 0, finished: 0, aborted: 0, bodies: 0, maxWaiting: 0 };
  let waiting = 0;
  // later answers after a delay, so responses complete out of order.
  const later = (res: HttpResponse, ms: number, fn: () => void): void => {
    waiting++;
    counts.maxWaiting = Math.max(counts.maxWaiting, waiting);
    setTimeout(() => {
      waiting--;
      if (!res.aborted) fn();
    }, ms);
  };
  const router = new Router();
  router.get('/now', (res, req) => {
    res.writeHeader('X-Q', req.getQuery()).end(`now ${req.getQuery()}`);
  });
  router.get('/later', (res, req) => {
    const q = new URLSearchParams(req.getQuery());
    later(res, Number(q.get('ms') ?? '0'), () => {
      res.end(`later ${q.get('i') ?? ''}`);
    });
  });
  router.put('/store/*', (res, req) => {
    const key = req.getUrl().slice(7);
    const ms = Number(new URLSearchParams(req.getQuery()).get('ms') ?? '0');
    const parts: Buffer[] = [];
    res.onAborted(() => {
      counts.aborted++;
    });
    res.onData((chunk, isLast) => {
      parts.push(Buffer.from(chunk));
      if (!isLast) return;
      counts.bodies++;
      const value = Buffer.concat(parts).toString();
      later(res, ms, () => {
        store.set(key, value);
        res.writeStatus('204 No Content').endWithoutBody();
      });
    });
  });
  router.get('/store/*', (res, req) => {
    const v = store.get(req.getUrl().slice(7));
    if (v === undefined) res.writeStatus('404 Not Found').end('missing');
    else res.end(v);
  });
  router.get('/stream', (res) => {
    res.writeHeader('Content-Type', 'text/plain');
    res.write(Buffer.from('one,'));
    later(res, 5, () => {
      res.write(Buffer.from('two,'));
      res.end('three');
    });
  });
  // 64 MiB in 1 MiB chunks, one per turn, each once the previous one drained (a streamed answer)
  router.get('/bigstream', (res) => {
    const chunk = Buffer.alloc(1024 * 1024, 'b');
    let left = 64;
    const pump = (): void => {
      if (res.aborted) return;
      if (left === 0) {
        res.end();
        return;
      }
      left--;
      if (res.write(chunk)) setImmediate(pump);
    };
    res.writeHeader('Content-Type', 'application/octet-stream');
    res.onWritable(() => {
      setImmediate(pump);
      return true;
    });
    pump();
  });
  router.get('/throw', () => {
    throw new Error('route bug');
  });
  router.any('/*', (res) => {
    res.writeStatus('404 Not Found').end('no route');
  });
  const start = async (
    observer: { started(): void; finished(): void },
    options: ServerLimits,
  ): Promise<{ port: number; server: Http1Server }> => startRouterServer(router, { observer, ...options });
  const main = await start(
    {
      started: () => counts.started++,
      finished: () => counts.finished++,
    },
    {},
  );
  return {
    ...main,
    store,
    counts,
    startExtra: async (options) => {
      const exchanges = { started: 0, finished: 0 };
      const observer = { started: () => exchanges.started++, finished: () => exchanges.finished++ };
      return { ...(await start(observer, options)), exchanges };
    },
    stop: () => {
      main.server.close();
      main.server.destroyConnections();
    },
  };
}
