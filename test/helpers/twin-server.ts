/**
 * A node:http server that stands in for a distkv node in CLI tests (`distkv failover` against
 * twins of its nodes): it records each call as "METHOD url" and answers 200 with the JSON that
 * `answer` returns for the call's url and body, 404 when it returns undefined, or another status
 * when it returns a TwinStatus.
 */
import { createServer, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sseFrame } from '../../src/watch/watch-event.js';

/** TwinStatus is an answer with its own status (e.g. a 503 with a distkv error body). */
export class TwinStatus {
  readonly status: number;
  readonly doc: unknown;

  constructor(status: number, doc: unknown) {
    this.status = status;
    this.doc = doc;
  }
}

/** TwinServer is a started twin: its address, the calls it got, and how to stop it. */
export interface TwinServer {
  readonly address: string;
  readonly calls: string[];
  stop(): Promise<void>;
}

/** startTwinServer listens on a free loopback port and answers every request with `answer`. */
export async function startTwinServer(answer: (url: string, body: string) => unknown): Promise<TwinServer> {
  const calls: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      calls.push(`${req.method} ${req.url}`);
      const doc = answer(req.url ?? '', body);
      if (doc === undefined) res.writeHead(404).end();
      else if (doc instanceof TwinStatus)
        res.writeHead(doc.status, { 'content-type': 'application/json' }).end(JSON.stringify(doc.doc));
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    stop: () =>
      new Promise((r) =>
        server.close(() => {
          r();
        }),
      ),
  };
}

/** HandlerTwin is a started node:http twin with its own handler: its address, its server, how to stop it. */
export interface HandlerTwin {
  readonly address: string;
  readonly server: Server;
  /** stop closes every connection and the listener. */
  stop(): Promise<void>;
}

/**
 * startHandlerTwin listens on a free loopback port with a handler of its own: for twins that
 * answer late, drop the connection after reading a request, or answer per method.
 */
export async function startHandlerTwin(handler: RequestListener): Promise<HandlerTwin> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    stop: () => {
      server.closeAllConnections();
      return new Promise((r) =>
        server.close(() => {
          r();
        }),
      );
    },
  };
}

/**
 * startOneShardTwin is a one-shard node's twin (`startHandlerTwin`) that answers /cluster with
 * `oneShardView` of its own address (its shard's replicas on `replicas`, none by default) and hands
 * every other request to `handler`.
 */
export async function startOneShardTwin(
  handler: RequestListener,
  replicas: readonly string[] = [],
): Promise<HandlerTwin> {
  const twin: HandlerTwin = await startHandlerTwin((req, res) => {
    if (req.url !== '/cluster') {
      handler(req, res);
      return;
    }
    const doc = JSON.parse(oneShardView(twin.address)) as { shards: { replicas: unknown[] }[] };
    doc.shards[0]!.replicas = replicas.map((address) => ({ address }));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
  });
  return twin;
}

/** HelloWatchTwin is a one-shard twin whose /watch streams stay open after their hello. */
export interface HelloWatchTwin extends HandlerTwin {
  /** streams counts the /watch requests it answered. */
  streams(): number;
}

/**
 * startHelloWatchTwin is a one-shard node's twin (`startOneShardTwin`) that answers every /watch
 * with an SSE stream holding only its hello (shard 0, cursor 0:1.1) and keeps it open, `onStream`
 * seeing each response (404 for any other path).
 */
export async function startHelloWatchTwin(
  onStream: (res: ServerResponse) => void = () => undefined,
): Promise<HelloWatchTwin> {
  let streams = 0;
  const twin = await startOneShardTwin((req, res) => {
    req.resume();
    if (!(req.url ?? '').startsWith('/watch')) {
      res.writeHead(404).end();
      return;
    }
    streams++;
    onStream(res);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(sseFrame('{"type":"hello","shards":[0],"elsewhere":{},"cursor":"0:1.1"}', 'hello', '0:1.1'));
  });
  return Object.assign(twin, { streams: () => streams });
}

/**
 * oneShardView is the /cluster document (JSON text) of a one-shard cluster (config hash "cfg") led
 * by `leader` in live map `version`, with the leader's last seq when given.
 */
export function oneShardView(leader: string, version = 1, lastSeq?: number): string {
  return JSON.stringify({
    version: 'cfg',
    map_version: version,
    slots: 16384,
    node: leader,
    hosted_nodes: [leader],
    shards: [
      {
        name: 'shard-0',
        idx: 0,
        slots: [0, 16383],
        leader: { address: leader, local: true, ...(lastSeq === undefined ? {} : { last_seq: lastSeq }) },
        replicas: [],
      },
    ],
  });
}

/** ViewDoc is a oneShardView document, as a test edits it. */
export interface ViewDoc {
  coordination?: unknown;
  shards: { leader: Record<string, unknown>; replicas: unknown[] }[];
}

/**
 * startViewTwin answers GET /cluster with a oneShardView of its own address (live map 1, last seq
 * `lastSeq`) that `edit` changes at every request (a test's state), and 404 to anything else.
 */
export async function startViewTwin(edit: (view: ViewDoc) => void, lastSeq = 0): Promise<HandlerTwin> {
  const twin: HandlerTwin = await startHandlerTwin((req, res) => {
    req.resume().on('end', () => {
      if (req.url !== '/cluster') {
        res.writeHead(404).end();
        return;
      }
      const view = JSON.parse(oneShardView(twin.address, 1, lastSeq)) as ViewDoc;
      edit(view);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(view));
    });
  });
  return twin;
}

/** RecordingTwin is a started one-shard twin and the key requests it got, as "METHOD target". */
export interface RecordingTwin {
  readonly node: HandlerTwin;
  readonly sent: string[];
}

/**
 * startRecordingTwin is startOneShardTwin (its shard's replicas on `replicas`) answering every
 * other request 204 with `headers`, once its body is read, and recording it in `sent`.
 */
export async function startRecordingTwin(
  headers: Record<string, string>,
  replicas: readonly string[] = [],
): Promise<RecordingTwin> {
  const sent: string[] = [];
  const node = await startOneShardTwin((req, res) => {
    sent.push(`${req.method ?? ''} ${req.url ?? ''}`);
    req.resume().on('end', () => res.writeHead(204, headers).end());
  }, replicas);
  return { node, sent };
}

/**
 * SilentTwins are two nodes that never answer: `silent` answers nothing at all, `keysSilent`
 * answers /cluster (leading the one shard) and nothing else, for the tests of a frozen node's
 * timeout message. `stop` stops both.
 */
export interface SilentTwins {
  silent: HandlerTwin;
  keysSilent: HandlerTwin;
  stop: () => Promise<void>;
}

/** startSilentTwins starts the two SilentTwins. */
export async function startSilentTwins(): Promise<SilentTwins> {
  const silent = await startHandlerTwin((req) => {
    req.resume();
  });
  const keysSilent: HandlerTwin = await startHandlerTwin((req, res) => {
    if (req.url === '/cluster')
      res.writeHead(200, { 'content-type': 'application/json' }).end(oneShardView(keysSilent.address));
    else req.resume();
  });
  return {
    silent,
    keysSilent,
    stop: async () => {
      await silent.stop();
      await keysSilent.stop();
    },
  };
}
