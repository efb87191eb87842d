/**
 * FakeLeader: a loopback HTTP server that answers a replica's `/_repl/pull` and `/_repl/snapshot`
 * as a distkv leader of one shard does (src/http/repl-routes.ts), holding `keys` written at seqs
 * 1..keys, so tests can cut a snapshot stream short or stall it at will.
 *
 * Pulls: 410 below the snapshot seq (the replica must resync), 204 at it. Snapshots: the whole
 * state, or (`stallAfter`) the header and that many entries, then silence until the client leaves.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpSource, HttpSourceOptions } from '../../src/replication/http-source.js';
import { encodeSnapshotEntries, encodeSnapshotHeader } from '../../src/replication/snapshot-format.js';
import { sourceOf } from './fake-peer.js';
import { snapshotStream } from './snapshot-stream.js';

/** FakeLeader serves one shard's replication endpoints (see above). */
export class FakeLeader {
  /** stallAfter, when set, stops each snapshot after that many entries (the connection stays open). */
  stallAfter: number | undefined;
  /** pullAnswer, when set, is how every pull is answered instead (status, headers, body). */
  pullAnswer: { status: number; headers: Record<string, string>; body: string } | undefined;
  /** refuseSnapshots answers snapshot requests 503 (a leader that cannot serve one yet). */
  refuseSnapshots = false;
  /** snapshotEpoch, when set, is sent as a snapshot's X-Distkv-Epoch (the epoch of its seq). */
  snapshotEpoch: string | undefined;
  /**
   * flipped, while above 0, is how many more snapshots go out with one bit of their last value
   * flipped (a bad NIC, a proxy: the stream is otherwise whole, its crc the leader's).
   */
  flipped = 0;
  /** snapshots counts the snapshot requests answered. */
  snapshots = 0;
  private readonly keys: number;
  private readonly server: Server;
  private readonly stalled = new Set<ServerResponse>();

  private constructor(keys: number) {
    this.keys = keys;
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/_repl/snapshot') this.snapshot(res);
      else if (url.pathname === '/_repl/pull') this.pull(res, Number(url.searchParams.get('after')));
      else res.writeHead(404).end();
    });
  }

  /** start listens on loopback `port` (0: a free one). */
  static async start(keys: number, port = 0): Promise<FakeLeader> {
    const l = new FakeLeader(keys);
    await new Promise<void>((resolve) => l.server.listen(port, '127.0.0.1', resolve));
    return l;
  }

  /** address is "host:port". */
  get address(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** source is the HttpSource with which replica `replica` ("host:port") pulls this leader's shard 0. */
  source(replica: string, o: Partial<HttpSourceOptions> = {}): HttpSource {
    return sourceOf(this.address, { replica, ...o });
  }

  /** entries are the shard's keys: k<i> = v<i>, written at seq i. */
  entries(n = this.keys): { key: Buffer; value: Buffer; seq: number }[] {
    return Array.from({ length: n }, (_, i) => ({
      key: Buffer.from(`k${String(i + 1).padStart(4, '0')}`),
      value: Buffer.from(`v${i + 1}`),
      seq: i + 1,
    }));
  }

  /** close ends stalled streams and stops listening. */
  async close(): Promise<void> {
    for (const res of this.stalled) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
  }

  private snapshot(res: ServerResponse): void {
    this.snapshots++;
    if (this.refuseSnapshots) {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"code":"UNAVAILABLE"}}');
      return;
    }
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      ...(this.snapshotEpoch === undefined ? {} : { 'x-distkv-epoch': this.snapshotEpoch }),
    });
    if (this.stallAfter !== undefined) {
      res.write(encodeSnapshotHeader(this.keys));
      res.write(encodeSnapshotEntries(this.entries(this.stallAfter), false));
      this.stalled.add(res);
      return;
    }
    const stream = snapshotStream(this.keys, this.entries());
    if (this.flipped > 0) {
      this.flipped--;
      // The last value's last byte: the stream ends with it, the end marker, exactSeq and the crc.
      const at = stream.length - 15;
      stream[at] = stream[at]! ^ 0x04;
    }
    res.end(stream);
  }

  private pull(res: ServerResponse, after: number): void {
    if (this.pullAnswer !== undefined) {
      res.writeHead(this.pullAnswer.status, this.pullAnswer.headers).end(this.pullAnswer.body);
      return;
    }
    const headers = {
      'x-distkv-leader-seq': String(this.keys),
      'x-distkv-epoch': '0',
      'x-distkv-records-epoch': '0',
    };
    if (after < this.keys) {
      res.writeHead(410, { ...headers, 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'LOG_GONE', message: 'resync' } }));
      return;
    }
    // A long poll with nothing new: answered at once, the replica asks again.
    setTimeout(() => res.writeHead(204, headers).end(), 20);
  }
}
