/**
 * A scan right after a failover waits it out as a key read does (src/client/sender.ts): any leader
 * serves a scan, so the client asks another leader of the newest map. Twins of two nodes X and Y,
 * each leading one shard of two.
 * - A node whose map still names a dead old leader answers 503 SHARD_UNREACHABLE (it could not
 *   forward that shard's part) until the nodes' maps agree: the client used to reject the scan
 *   with it; it now waits, asking again (the other leader first), and returns the page.
 * - The client's own map names a dead old leader (X, its port closed) while the cluster moved both
 *   shards to Y: the client used to retry X alone and reject; it now reloads the map and asks Y,
 *   also with `refusedWaitMs` (the CLI's), which held the scan at X that long before failing.
 * Scans read leaders only: every scan the twins got carries `leader=1`.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { type HandlerTwin, startHandlerTwin } from '../helpers/twin-server.js';

const twins: HandlerTwin[] = [];
const clients: DistkvClient[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(twins.map((t) => t.stop()));
});

/** twoShardView is the /cluster document of two shards led by `leaders`, in live map `version`. */
function twoShardView(leaders: readonly [string, string], version: number): string {
  const shard = (idx: number, slots: [number, number]) => ({
    name: `shard-${idx}`,
    idx,
    slots,
    leader: { address: leaders[idx]!, local: false },
    replicas: [],
  });
  return JSON.stringify({
    version: 'cfg',
    map_version: version,
    slots: 16384,
    node: leaders[0],
    hosted_nodes: [],
    shards: [shard(0, [0, 8191]), shard(1, [8192, 16383])],
  });
}

const PAGE = JSON.stringify({
  items: [{ key: 'k', value_base64: Buffer.from('v').toString('base64') }],
  next: null,
});

/** Node is a twin whose /cluster answers `view()` and whose scans answer `scan()` (undefined: the page). */
interface Node {
  twin: HandlerTwin;
  scans: string[];
}

async function node(view: () => string, scan: () => string | undefined): Promise<Node> {
  const scans: string[] = [];
  const twin = await startHandlerTwin((req: IncomingMessage, res: ServerResponse) => {
    req.resume().on('end', () => {
      if (req.url === '/cluster') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(view());
        return;
      }
      scans.push(req.url ?? '');
      const refusal = scan();
      if (refusal === undefined) res.writeHead(200, { 'content-type': 'application/json' }).end(PAGE);
      else res.writeHead(503, { 'content-type': 'application/json' }).end(refusal);
    });
  });
  twins.push(twin);
  return { twin, scans };
}

function unreachable(owner: string): string {
  return JSON.stringify({
    error: {
      code: 'SHARD_UNREACHABLE',
      message: `scan incomplete: shard 0 (owner ${owner}: connect ECONNREFUSED)`,
    },
    partial: { items: [], next: null },
  });
}

describe('a scan right after a failover', () => {
  it('is asked again while nodes answer SHARD_UNREACHABLE for an old leader, then returns the page', async () => {
    let agreed = false;
    let refusals = 0;
    let leaders: [string, string] = ['', ''];
    const scan = () => {
      if (agreed) return undefined;
      // Both nodes still route a shard to the dead old leader for their first two scans.
      if (++refusals >= 2) agreed = true;
      return unreachable('127.0.0.1:1');
    };
    const x = await node(() => twoShardView(leaders, 2), scan);
    const y = await node(() => twoShardView(leaders, 2), scan);
    leaders = [x.twin.address, y.twin.address];
    const client = new DistkvClient({ urls: [`http://${x.twin.address}`] });
    clients.push(client);
    const page = await client.scanPage('');
    assert.deepEqual(
      page.items.map((i) => i.key),
      ['k'],
    );
    const all = [...x.scans, ...y.scans];
    assert.equal(all.length, 3, all.join(' '));
    assert.ok(x.scans.length > 0 && y.scans.length > 0, 'the retry went to the other leader');
    for (const url of all) assert.match(url, /[?&]leader=1(&|$)/);
  });

  it('is sent to the leader a reloaded map names, not again to the dead old leader', async () => {
    let moved = false;
    let leaders: [string, string] = ['', ''];
    const x = await node(
      () => twoShardView(leaders, 1),
      () => undefined,
    );
    const y = await node(
      () => (moved ? twoShardView([leaders[1], leaders[1]], 2) : twoShardView(leaders, 1)),
      () => undefined,
    );
    leaders = [x.twin.address, y.twin.address];
    // The CLI's wait for a node that refuses connections: it held the scan at the dead node.
    const client = new DistkvClient({ urls: [`http://${y.twin.address}`], refusedWaitMs: 10000 });
    clients.push(client);
    await client.topology();
    assert.equal(client.liveMapVersion, 1);
    await x.twin.stop();
    moved = true;
    const start = performance.now();
    // The client's map names X first: the round-robin starts there.
    const page = await client.scanPage('');
    const ms = performance.now() - start;
    assert.deepEqual(
      page.items.map((i) => i.key),
      ['k'],
    );
    assert.equal(client.liveMapVersion, 2);
    assert.equal(y.scans.length, 1);
    assert.match(y.scans[0]!, /[?&]leader=1(&|$)/);
    assert.ok(ms < 8000, `the scan waited ${ms.toFixed(0)} ms at the dead node`);
  });
});
