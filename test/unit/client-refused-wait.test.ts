/**
 * A node restarting (systemd, a rolling restart) leaves its port closed for a few seconds between
 * its old process and its new one (about 2-4 s on a loaded 2-core machine), and only then answers
 * 503 STARTING, which the client waits for. A request in that gap failed at once: `distkv get`
 * exited 1 with "connect ECONNREFUSED 127.0.0.1:8080" after three retries within ~350 ms (and no
 * retry at all for the load of /cluster), and `distkv scan --all` stopped part-way. Now a client
 * given `refusedWaitMs` (the CLI: 10 s) sends a refused request, and the load of /cluster, again
 * until the node listens, telling `onWait` once; past the bound the error says what a refused
 * connection means.
 * Twin: a one-shard node whose listener is closed for CLOSED_MS and then opened on the same port.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import type { WaitNotice } from '../../src/client/types.js';
import { DistkvError } from '../../src/errors.js';
import { waitFor } from '../helpers/failover-model.js';
import { runCli, spawnCli } from '../helpers/server-process.js';
import { oneShardView } from '../helpers/twin-server.js';

/** CLOSED_MS is how long the twin's port stays closed: longer than the old retries' ~350 ms. */
const CLOSED_MS = 1500;

/** RestartingTwin is a one-shard node that can close its port and open it again, as a restart does. */
class RestartingTwin {
  private server: Server | undefined;
  port = 0;

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** open listens on `port` (0: a free one) and answers /cluster and key requests. */
  async open(port = this.port): Promise<void> {
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/cluster')
          res.writeHead(200, { 'content-type': 'application/json' }).end(oneShardView(this.address));
        else if (req.method === 'PUT') res.writeHead(204, { etag: '"1.7"' }).end();
        else res.writeHead(200, { etag: '"1.7"', 'content-type': 'application/octet-stream' }).end('hello');
      });
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** close closes every connection and the listener: the port refuses connections until open. */
  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s === undefined) return;
    s.closeAllConnections();
    await new Promise<void>((r) => {
      s.close(() => {
        r();
      });
    });
  }

  /** restart closes the port now and opens it again after `closedMs` (resolves at once). */
  async restart(closedMs: number): Promise<void> {
    await this.close();
    setTimeout(() => void this.open(), closedMs);
  }
}

const twins: RestartingTwin[] = [];
after(async () => {
  await Promise.all(twins.map((t) => t.close()));
});

async function startTwin(): Promise<RestartingTwin> {
  const twin = new RestartingTwin();
  twins.push(twin);
  await twin.open(0);
  return twin;
}

describe('a node that refuses connections for a moment (its restart)', () => {
  it('is waited for by a read and a write of a client given refusedWaitMs, telling onWait once each', async () => {
    const twin = await startTwin();
    const notices: WaitNotice[] = [];
    const client = new DistkvClient({
      urls: [twin.address],
      refusedWaitMs: 10000,
      onWait: (n) => notices.push(n),
    });
    try {
      assert.equal(await client.getString('k'), 'hello');
      await twin.restart(CLOSED_MS);
      assert.equal(await client.getString('k'), 'hello');
      assert.equal(notices.length, 1);
      const [first] = notices;
      assert.ok(first !== undefined);
      assert.equal(first.code, 'REFUSED');
      assert.equal(first.node, twin.address);
      assert.equal(first.shard, 0);
      await twin.restart(CLOSED_MS);
      assert.equal(await client.putVersioned('k', 'v'), '1.7');
      assert.equal(notices.length, 2);
    } finally {
      await client.close();
    }
  });

  it('is waited for when loading /cluster, the first thing a client does', async () => {
    const twin = await startTwin();
    await twin.restart(CLOSED_MS);
    const notices: WaitNotice[] = [];
    const client = new DistkvClient({
      urls: [twin.address],
      refusedWaitMs: 10000,
      onWait: (n) => notices.push(n),
    });
    try {
      assert.equal(await client.getString('k'), 'hello');
      assert.deepEqual(
        notices.map((n) => [n.code, n.node]),
        [['REFUSED', twin.address]],
      );
    } finally {
      await client.close();
    }
  });

  it('fails past refusedWaitMs (0 by default) with a message that says what a refused connection means', async () => {
    const twin = await startTwin();
    const client = new DistkvClient({ urls: [twin.address] });
    try {
      assert.equal(await client.getString('k'), 'hello');
      await twin.close();
      await assert.rejects(client.getString('k'), (err: unknown) => {
        assert.ok(err instanceof DistkvError);
        assert.equal(err.code, 'SHARD_UNREACHABLE');
        assert.match(
          err.message,
          /ECONNREFUSED .*\(nothing listens there: the node is stopped, or restarting/,
        );
        return true;
      });
    } finally {
      await client.close();
    }
  });

  it('is waited for by `distkv get`, which says so once on stderr and prints the value', async () => {
    const twin = await startTwin();
    await twin.close();
    // Opened once the command says it waits: a loaded machine can take longer than CLOSED_MS to
    // start a command, which then found the port open and had nothing to say.
    const cli = spawnCli(['get', 'k', '--url', twin.address]);
    await waitFor('the command to say it waits', () =>
      Promise.resolve(cli.stderrSoFar().includes('trying again')),
    );
    await twin.open();
    const r = await cli.result;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello');
    assert.match(
      r.stderr,
      /^distkv get: nothing listens at 127\.0\.0\.1:\d+ \(connection refused: a node stopped or restarting\); trying again \(up to 10 s; Ctrl-C gives up\)\n$/,
    );
  });

  it('gives `distkv get` up after 10 s of refusals, exit 1, naming what that means', async () => {
    const twin = await startTwin();
    await twin.close();
    const started = performance.now();
    const r = await runCli(['get', 'k', '--url', twin.address]);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(performance.now() - started >= 10000, 'waited the 10 s');
    assert.match(r.stderr, /SHARD_UNREACHABLE: no node answered \/cluster .*\(nothing listens there/);
  });
});
