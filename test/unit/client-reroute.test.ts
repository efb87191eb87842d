/**
 * The client library routes a key request once more after its owner became unreachable and a
 * reloaded map names another leader (a failover). A conditional write (If-Match / If-None-Match)
 * is re-sent there only when the first attempt never reached the old leader (its connection was
 * refused): once it was sent, the old leader may have applied it and a replica may have it, so a
 * second attempt would be refused against the client's own write (412), and a compare-and-set loop
 * that then reads and writes again applies its change twice. Twins here: node O answers /cluster
 * (shard 0 at A, then at B once A "failed"), A takes the write and drops the connection unanswered,
 * B records what reaches it.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, beforeEach, describe, it } from 'node:test';
import type { AddressInfo } from 'node:net';
import { DistkvClient } from '../../src/client/client.js';
import type { DistkvError } from '../../src/errors.js';
import { freePort } from '../helpers/ports.js';
import { startTwinServer, type TwinServer, TwinStatus } from '../helpers/twin-server.js';

const servers: { stop(): Promise<void> }[] = [];
const clients: DistkvClient[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(servers.map((s) => s.stop()));
});

/** view is a one-shard /cluster document with its leader at `leader`, in live map `version`. */
function view(leader: string, version: number): unknown {
  return {
    version: 'cfg',
    map_version: version,
    slots: 16384,
    node: leader,
    hosted_nodes: [leader],
    shards: [{ name: 'shard-0', idx: 0, slots: [0, 16383], leader: { address: leader }, replicas: [] }],
  };
}

/** startDropper listens and drops every connection once a whole request head arrived: an answer lost. */
async function startDropper(onRequest: () => void): Promise<string> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('\r\n\r\n')) {
        onRequest();
        s.destroy();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push({
    stop: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          r();
        });
      }),
  });
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

let moved = false;
let a = '';
let b: TwinServer;
let origin: TwinServer;

beforeEach(async () => {
  moved = false;
  b = await startTwinServer((url) =>
    url.startsWith('/kv/')
      ? new TwinStatus(412, {
          error: { code: 'PRECONDITION_FAILED', message: 'version is 1.7', version: '1.7' },
          version: '1.7',
        })
      : undefined,
  );
  servers.push(b);
  origin = await startTwinServer((url) =>
    url === '/cluster' ? view(moved ? b.address : a, moved ? 2 : 1) : undefined,
  );
  servers.push(origin);
});

describe('a key request re-routed after a failover', () => {
  it('does not send a conditional write again once the old leader may have applied it', async () => {
    a = await startDropper(() => {
      moved = true;
    });
    const client = new DistkvClient({ urls: [origin.address] });
    clients.push(client);
    await client.topology();
    const err = (await client.put('k', 'v', { ifMatch: '1.5' }).then(
      () => undefined,
      (e: unknown) => e,
    )) as DistkvError | undefined;
    assert.equal(err?.code, 'OUTCOME_UNKNOWN', String(err));
    assert.match(err.message, /may have been applied/);
    assert.deepEqual(
      b.calls.filter((c) => c.startsWith('PUT')),
      [],
      'the conditional write was sent to the new leader',
    );
  });

  it('sends a conditional write to the new leader when the old one refused the connection', async () => {
    a = `127.0.0.1:${await freePort()}`;
    const client = new DistkvClient({ urls: [origin.address] });
    clients.push(client);
    await client.topology();
    moved = true;
    const err = (await client.put('k', 'v', { ifMatch: '1.5' }).then(
      () => undefined,
      (e: unknown) => e,
    )) as DistkvError | undefined;
    assert.equal(err?.code, 'PRECONDITION_FAILED', String(err));
    assert.deepEqual(
      b.calls.filter((c) => c.startsWith('PUT')),
      ['PUT /kv/k'],
    );
  });
});

describe('a conditional write held by a leader switch', () => {
  it('is sent again after the switch: the node said it was not executed', async () => {
    let held = 2;
    const leader = await startTwinServer((url) => {
      if (url === '/cluster') return view(leader.address, 1);
      if (!url.startsWith('/kv/')) return undefined;
      if (held-- > 0)
        return new TwinStatus(503, {
          error: { code: 'SWITCHING_LEADER', message: "shard 0's leader is being switched; retry shortly" },
        });
      return { ok: true };
    });
    servers.push(leader);
    const client = new DistkvClient({ urls: [leader.address] });
    clients.push(client);
    await client.put('k', 'v', { ifMatch: '1.5' });
    assert.deepEqual(
      leader.calls.filter((c) => c.startsWith('PUT')),
      ['PUT /kv/k', 'PUT /kv/k', 'PUT /kv/k'],
    );
  });
});
