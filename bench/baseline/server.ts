/**
 * The baseline: a bare uWebSockets.js server over a JavaScript Map, with the same routes as
 * distkv's hot paths (GET/PUT /kv/{key}, GET /get?key=, GET /set?key=&value=). It does no routing,
 * no validation beyond the minimum, no persistence: it is the ceiling a Node.js KV server can
 * reach on this machine, and every distkv figure is reported as a ratio to it.
 *
 * With `--log DIR` a PUT is acknowledged only once it is appended to a file in DIR, one write per
 * event-loop turn, and with `--sync` also fdatasynced (turn-log.ts): the ceiling of a Node.js
 * server that acknowledges writes durably, next to redis-server with appendfsync always.
 *
 * `npm run bench:baseline -- [OPTIONS]` builds the checkout, then runs it; on a built checkout:
 * Usage: node dist/bench/baseline/server.js [--port 9090] [--host 127.0.0.1] [--log DIR [--sync]]
 */
import { createRequire } from 'node:module';
import type * as Uws from 'uWebSockets.js';
import { TurnLog } from './turn-log.js';

const require = createRequire(import.meta.url);
const uws = require('uWebSockets.js') as typeof Uws;

/** startBaseline listens on host:port and resolves with a close function; with `log`, PUTs are acknowledged once logged. */
export function startBaseline(host: string, port: number, log?: TurnLog): Promise<() => void> {
  const map = new Map<string, Buffer>();
  const app = uws.App();
  app.get('/kv/*', (res, req) => {
    const v = map.get(decodeURIComponent(req.getUrl().slice(4)));
    if (v === undefined) res.writeStatus('404 Not Found').end();
    else res.end(v);
  });
  app.put('/kv/*', (res, req) => {
    const key = decodeURIComponent(req.getUrl().slice(4));
    const chunks: Buffer[] = [];
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const answer = (): void => {
      if (!aborted)
        res.cork(() => {
          res.writeStatus('204 No Content').endWithoutBody();
        });
    };
    res.onData((chunk, isLast) => {
      chunks.push(Buffer.from(new Uint8Array(chunk)));
      if (isLast) {
        const value = Buffer.concat(chunks);
        map.set(key, value);
        if (log === undefined) answer();
        else {
          log.append(key, value);
          log.whenLogged(answer);
        }
      }
    });
  });
  app.get('/get', (res, req) => {
    const v = map.get(req.getQuery('key'));
    if (v === undefined) res.writeStatus('404 Not Found').end('Error: Key not found\n');
    else res.end(Buffer.concat([Buffer.from('Value: '), v]));
  });
  app.get('/set', (res, req) => {
    map.set(req.getQuery('key'), Buffer.from(req.getQuery('value')));
    res.end('Key set successfully on shard 0');
  });
  app.get('/healthz', (res) => {
    res.end('ok');
  });
  return new Promise((resolve, reject) => {
    app.listen(host, port, (socket) => {
      if (socket === false) reject(new Error(`baseline: cannot listen on ${host}:${port}`));
      else {
        resolve(() => {
          uws.us_listen_socket_close(socket);
          log?.close();
        });
      }
    });
  });
}

if (
  process.argv[1] !== undefined &&
  import.meta.url.endsWith(process.argv[1].replace(/^.*\/dist\//, '/dist/'))
) {
  // Run as a script: its options (and --help) through the benchmarks' reader, imported only here
  // so that importing this module has no effect on the importer's command line.
  const { arg, count, flag } = await import('../lib/args.js');
  const port = count('port', 9090);
  const host = arg('host', '127.0.0.1');
  const logDir = arg('log', '');
  await startBaseline(host, port, logDir === '' ? undefined : new TurnLog(logDir, flag('sync')));
  process.stdout.write(`baseline listening on http://${host}:${port}\n`);
}
