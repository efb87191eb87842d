/**
 * A node that accepts connections and answers nothing (SIGSTOP, a hung host) does not hold up the
 * client's topology. A look for the newest map (ClusterTopology.loadNewest: each retry of a request
 * whose node did not answer makes one) takes the views that came and ends LOOK_GRACE_MS after the
 * first; it used to wait for every node, so each retry waited the client's timeout twice (the look,
 * then the attempt): `distkv get` of a key on a stopped leader took 107 s instead of the 40 s of its
 * four attempts. A load of /cluster asks the next configured node LOAD_STAGGER_MS after the one
 * before; it asked them one after the other, so with the first of DISTKV_URL stopped every CLI
 * command waited its 10 s timeout first; and the request left out to it held the client's close (a
 * CLI command's exit) for that timeout too, until the load abandons it. `cluster()` (what
 * `distkv cluster` shows) gives each configured node but the last one attempt, not a read's retries.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { NodePools } from '../../src/client/node-pools.js';
import { ClusterTopology } from '../../src/client/topology.js';
import { type HandlerTwin, oneShardView, startHandlerTwin } from '../helpers/twin-server.js';

const TIMEOUT_MS = 5000;
const held: Socket[] = [];
const silent = createServer((socket) => {
  held.push(socket);
  socket.on('error', () => undefined);
});
let good: HandlerTwin;
let silentAddress = '';
const pools = new NodePools({ connections: 2, timeoutMs: TIMEOUT_MS, ca: undefined }, '');

before(async () => {
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  silentAddress = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
  good = await startHandlerTwin((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(oneShardView(good.address, 7));
  });
});

after(async () => {
  for (const s of held) s.destroy();
  await pools.close();
  await good.stop();
  await new Promise<void>((resolve) => {
    silent.close(() => {
      resolve();
    });
  });
});

describe('the topology with one configured node silent', () => {
  it("adopts the answering node's map without waiting out the silent node", async () => {
    const stats = { requests: 0, redirects: 0, retries: 0, topologyLoads: 0 };
    const origins = [`http://${silentAddress}`, `http://${good.address}`];
    const topology = new ClusterTopology(origins, [silentAddress, good.address], pools, stats);
    const start = performance.now();
    await topology.loadNewest();
    const ms = performance.now() - start;
    assert.equal(topology.liveMapVersion, 7);
    assert.equal(topology.map?.shard(0).address, good.address);
    assert.ok(
      ms < TIMEOUT_MS / 2,
      `the look took ${ms.toFixed(0)} ms (the client's timeout is ${TIMEOUT_MS} ms)`,
    );
  });

  it('loads /cluster from the next configured node when the first answers nothing', async () => {
    const stats = { requests: 0, redirects: 0, retries: 0, topologyLoads: 0 };
    const origins = [`http://${silentAddress}`, `http://${good.address}`];
    const topology = new ClusterTopology(origins, [silentAddress, good.address], pools, stats);
    const start = performance.now();
    await topology.reload();
    const ms = performance.now() - start;
    assert.equal(topology.map?.shard(0).address, good.address);
    assert.ok(
      ms < TIMEOUT_MS / 2,
      `the load took ${ms.toFixed(0)} ms (the client's timeout is ${TIMEOUT_MS} ms)`,
    );
  });

  it('lets a client whose first url answers nothing make a call and close in well under its timeout', async () => {
    const client = new DistkvClient({ urls: [silentAddress, good.address], timeoutMs: TIMEOUT_MS });
    const start = performance.now();
    try {
      assert.notEqual(await client.get('k'), null);
    } finally {
      await client.close();
    }
    const ms = performance.now() - start;
    assert.ok(
      ms < TIMEOUT_MS / 2,
      `the call and the close took ${ms.toFixed(0)} ms (the client's timeout is ${TIMEOUT_MS} ms)`,
    );
  });

  it('asks the next configured node for cluster() after one attempt at a silent first one', async () => {
    const timeoutMs = 1500;
    const client = new DistkvClient({ urls: [silentAddress, good.address], timeoutMs });
    const start = performance.now();
    try {
      assert.equal((await client.cluster()).node, good.address);
    } finally {
      await client.close();
    }
    const ms = performance.now() - start;
    // Retried as any read (four attempts), the silent node held it at least 6 s.
    assert.ok(ms < 4000, `cluster() took ${ms.toFixed(0)} ms (the client's timeout is ${timeoutMs} ms)`);
  });
});
