/**
 * A TCP proxy that holds a matching HTTP request until the test has done something, for a test that
 * needs an event on the node between a client sending a request and the node reading it: a write
 * between a backup's copy of a shard and its `/cluster` check of the shard's seqs, for sure, where a
 * writer racing the client hit that window only while the test process was scheduled in time.
 *
 * The node listens elsewhere (`serve --listen`) and the proxy's address is the node's config
 * address, so every client that routes by the map goes through it. A local client writes a request
 * head in one write, so a request line arrives within one chunk. Requests on one connection keep
 * their order; a held one holds those after it.
 */
import { createServer, type Socket } from 'node:net';
import { pairUpstream } from './proxy-pair.js';

/** GateProxy is a running proxy; `held` counts the requests the hook ran for. */
export interface GateProxy {
  readonly held: number;
  /** gate runs `hook` before forwarding each request whose head matches `line` (none: forward all). */
  gate(line: RegExp | undefined, hook?: () => Promise<void>): void;
  close(): Promise<void>;
}

/** startGateProxy listens on listenHost:listenPort and forwards each connection to targetHost:targetPort. */
export function startGateProxy(
  listenHost: string,
  listenPort: number,
  targetHost: string,
  targetPort: number,
): Promise<GateProxy> {
  const sockets = new Set<Socket>();
  let rule: { line: RegExp; hook: () => Promise<void> } | undefined;
  let held = 0;
  const server = createServer({ noDelay: true }, (client) => {
    const { upstream, end } = pairUpstream(client, targetHost, targetPort, sockets);
    upstream.pipe(client);
    // Chunks go on in order, each once the hook of any request before it has run.
    let forwarded = Promise.resolve();
    client.on('data', (chunk: Buffer) => {
      const r = rule;
      forwarded = forwarded.then(async () => {
        if (r !== undefined && r.line.test(chunk.toString('latin1'))) {
          await r.hook();
          held++;
        }
        if (!upstream.destroyed) upstream.write(chunk);
      });
      // A failing hook drops the connection: the client sees its request fail.
      forwarded.catch(end);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, listenHost, () => {
      resolve({
        get held() {
          return held;
        },
        gate: (line, hook) => {
          rule = line === undefined || hook === undefined ? undefined : { line, hook };
        },
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            sockets.clear();
            server.close(() => {
              done();
            });
          }),
      });
    });
  });
}
