/**
 * Fake peers for the hostile-peer tests (test/unit/hostile-peer-*.test.ts): node:http servers on
 * 127.0.0.1 that answer as a broken or hostile node would. A file keeps one `FakePeers` and closes
 * it in its `after`; `start` serves a handler on a free port and returns the "host:port" the
 * handler is also given, for answers that name their own node (a `/cluster` leader, a redirect).
 *
 * A replica's side of a fake leader: `sourceOf` (its HttpSource) and `followerOf` (a Follower over
 * it into a test store, which must never resync). Outcomes: `settled` (how a promise settled
 * within a bound: an endless answer must not hold the replica), `waitUntil` (a condition polled
 * within a bound), `watchError` (what a client's watch of a fake node ended with).
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DistkvClient } from '../../src/client/client.js';
import { Follower } from '../../src/replication/follower.js';
import { HttpSource, type HttpSourceOptions } from '../../src/replication/http-source.js';
import type { StoreReplication } from '../../src/storage/store-replication.js';

/** PeerHandler answers one request of a fake peer whose address is `address`. */
export type PeerHandler = (req: IncomingMessage, res: ServerResponse, address: string) => void;

/** FakePeers starts fake peers and closes them all (see above). */
export class FakePeers {
  private readonly servers: Server[] = [];

  /** start serves `handler` on a free loopback port and returns its "host:port". */
  async start(handler: PeerHandler): Promise<string> {
    let address = '';
    const server = createServer((req, res) => {
      handler(req, res, address);
    });
    this.servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    return address;
  }

  /** close ends every connection of every peer started and closes them. */
  async close(): Promise<void> {
    for (const s of this.servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  }
}

/** oneShardCluster is the `/cluster` document of a one-shard cluster led by `address`. */
export function oneShardCluster(address: string): unknown {
  return {
    version: 'cfg',
    map_version: 1,
    shards: [{ name: 's0', idx: 0, slots: [0, 16383], leader: { address }, replicas: [] }],
  };
}

/** sendJson answers 200 with `doc` as JSON. */
export function sendJson(res: ServerResponse, doc: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
}

/** writeInMiBs writes `doc` 1 MiB a write (a chunked body when no Content-Length was set) and ends the answer. */
export function writeInMiBs(res: ServerResponse, doc: Buffer): void {
  for (let at = 0; at < doc.length; at += 1 << 20) res.write(doc.subarray(at, at + (1 << 20)));
  res.end();
}

/**
 * redirectingNode starts a one-shard node that answers `/cluster` as its leader and every other
 * request 307 to `location(itsAddress)`.
 */
export function redirectingNode(peers: FakePeers, location: (address: string) => string): Promise<string> {
  return peers.start((req, res, address) => {
    if (req.url?.startsWith('/cluster') === true) sendJson(res, oneShardCluster(address));
    else res.writeHead(307, { location: location(address) }).end();
  });
}

/**
 * snapshotLeader answers `/_repl/snapshot` with `stream` (epoch 0) and every other request (a
 * pull) 204, at leader seq 3.
 */
export function snapshotLeader(stream: Buffer): PeerHandler {
  return (req, res) => {
    if (req.url?.startsWith('/_repl/snapshot') === true)
      res.writeHead(200, { 'x-distkv-epoch': '0' }).end(stream);
    else res.writeHead(204, { 'x-distkv-leader-seq': '3', 'x-distkv-epoch': '0' }).end();
  };
}

/** sourceOf is the HttpSource with which replica 127.0.0.1:1 (or `o.replica`) pulls shard 0 of `leader` ("host:port"). */
export function sourceOf(leader: string, o: Partial<HttpSourceOptions> = {}): HttpSource {
  return new HttpSource({ leader, shard: 0, replica: '127.0.0.1:1', token: '', scheme: 'http', ...o });
}

/**
 * followerOf is a Follower of shard 0 of `leader` ("host:port") into `replica`'s store, pulling at
 * most 1 MiB and waiting 50 ms a pull. It must never resync: a rebuild or reopen rejects.
 */
export function followerOf(leader: string, replica: { readonly replication: StoreReplication }): Follower {
  return new Follower({
    source: sourceOf(leader),
    store: () => replica.replication,
    rebuild: () => Promise.reject(new Error('not reached')),
    reopen: () => Promise.reject(new Error('not reached')),
    publish: () => undefined,
    pullMaxBytes: 1 << 20,
    pullWaitMs: 50,
  });
}

/** waitUntil polls `done` every 10 ms and fails with `what` when it is not true within `ms`. */
export async function waitUntil(done: () => boolean, what: string, ms = 10000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    assert.ok(Date.now() < deadline, what);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * settled is how `p` settled within `ms`: its error, 'resolved', or `late` (it would have held the
 * replica: the old code's outcome for an endless answer).
 */
export async function settled(p: Promise<unknown>, ms: number, late = 'pending'): Promise<unknown> {
  let t: NodeJS.Timeout | undefined;
  const out = await Promise.race([
    p.then(
      () => 'resolved',
      (err: unknown) => err,
    ),
    new Promise((r) => {
      t = setTimeout(() => {
        r(late);
      }, ms);
    }),
  ]);
  clearTimeout(t);
  return out;
}

/** messageOf is an outcome's error message, or the outcome itself. */
export function messageOf(outcome: unknown): string {
  return outcome instanceof Error ? outcome.message : String(outcome);
}

/**
 * watchError is what `client`'s watch of `p/` ended with: it fails on a change, and when the watch
 * ends without an error (`stop` says whether it timed out).
 */
export function watchError(client: DistkvClient, stop: AbortSignal): Promise<unknown> {
  return (async () => {
    for await (const change of client.watch('p/', { signal: stop })) assert.fail(`a change: ${change.key}`);
  })().then(
    () => assert.fail(`the watch ended without an error (timed out: ${String(stop.aborted)})`),
    (e: unknown) => e,
  );
}
