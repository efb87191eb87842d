/**
 * The HTTP/1.1 front door alone, for bench/front-door-bench.ts: an `Http1Server` (imported from
 * the build named by `--build DIR`, so two builds run the same server) whose routes answer at once
 * on the main thread: `GET /kv/*` a 100-byte value, `PUT /kv/*` 204 once the body is read. No
 * workers, no store: what is left is parsing, routing and writing the reply. Its connections
 * count in a `ConnectionLimit`, as a node's do (with the unsent budget's accounting where the build
 * has it).
 *
 * Usage: node dist/bench/front-door-server.js [--build DIR (default ., the current directory)] --port P
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import type { Http1Server as ServerClass } from '../src/http/http1-server.js';
import type { Router as RouterClass } from '../src/http/router.js';
import type { ConnectionLimit as LimitClass } from '../src/server/connection-limit.js';
import { arg, count } from './lib/args.js';

const BUILD = resolve(arg('build', '.'));
const PORT = count('port', 0, 0);
const VALUE = Buffer.from('v'.repeat(100));

const load = async <T>(path: string): Promise<T> =>
  (await import(pathToFileURL(resolve(BUILD, 'dist', 'src', path)).href)) as T;
const { Http1Server } = await load<{ Http1Server: typeof ServerClass }>('http/http1-server.js');
const { Router } = await load<{ Router: typeof RouterClass }>('http/router.js');
const { ConnectionLimit } = await load<{ ConnectionLimit: typeof LimitClass }>('server/connection-limit.js');

const router = new Router();
router.get('/kv/*', (res) => {
  res.end(VALUE);
});
router.put('/kv/*', (res) => {
  res.onData((_chunk, isLast) => {
    if (isLast) res.writeStatus('204 No Content').endWithoutBody();
  });
});
router.any('/*', (res) => {
  res.writeStatus('404 Not Found').end('no route');
});
const server = new Http1Server({
  host: '127.0.0.1',
  port: PORT,
  address: `127.0.0.1:${PORT}`,
  router,
  observer: { started: () => undefined, finished: () => undefined },
  log: pino({ level: 'silent' }),
  connections: new ConnectionLimit(10000),
});
await server.listen();
process.on('SIGTERM', () => {
  server.close();
  server.destroyConnections();
  process.exit(0);
});
