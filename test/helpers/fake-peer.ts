/**
 * Fake peers for the hostile-peer tests (test/unit/hostile-peer-*.test.ts): node:http servers on
 * 127.0.0.1 that answer as a broken or hostile node would. A file keeps one `FakePeers` and closes
 * it in its `after`; `start` serves a handler on a free port and returns the "host:port" the
 * handler is also given, for answers that name their own node (a `/cluster` leader, a redirect).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

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
