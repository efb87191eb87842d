/**
 * Linearizability of single-key operations across three `distkv serve --node` processes, no faults:
 * three shards, shard i led by node i with node i+1 as its replica, so node i+2 hosts nothing of
 * it. 12 loops on 4 hot keys spread over the shards, each client loaded from another node; besides
 * the client library (which sends each request to the key's leader), a fifth of the operations go
 * with fetch to the node that hosts nothing of the key's shard: key requests, which node 0 and 1
 * answer 307 (followed, as the library follows one) and node 2, run with `--proxy`, relays to the
 * owner; and one-operation batches, which any node forwards to the owner (docs/api.md). Reads at a
 * replica's address are left out: a replica serves them with its lag, which docs/api.md allows.
 * The whole history, every path in it, must be linearizable (test/helpers/linearizability.ts).
 * DISTKV_SEED replays a run's choices (not its timing).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { expectLinearizable, loopClients, readAll, startLinLoad } from '../helpers/lin-load.js';
import { testSeed } from '../helpers/random.js';
import { freeNodeAddress } from '../helpers/resp.js';
import { type ServerProcess, startConfigNode, writeConfig } from '../helpers/server-process.js';

const KEYS = ['lin-a', 'lin-b', 'lin-c', 'lin-d', 'lin-e'];
const LOOPS = 12;
const OPS = 200;

const dir = mkdtempSync(join(tmpdir(), 'lin-48-three-'));
const running: ServerProcess[] = [];
const clients: DistkvClient[] = [];
let nodes: string[] = [];

before(async () => {
  nodes = await Promise.all(['127.0.0.1', '127.0.0.2', '127.0.0.3'].map((h) => freeNodeAddress(h)));
  const config = writeConfig(
    dir,
    nodes.map((address, i) => ({ address, replicas: [nodes[(i + 1) % 3]!] })),
  );
  await Promise.all(
    nodes.map((n, i) =>
      startConfigNode(config, n, join(dir, `node-${i}`), running, i === 2 ? ['--proxy'] : []),
    ),
  );
});

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(running.map((p) => p.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('linearizability across three nodes', { timeout: 120000 }, () => {
  it('explains by one order what the library, redirected, relayed and forwarded requests saw', async (t) => {
    const seed = testSeed();
    const shared = new DistkvClient({ urls: [`http://${nodes[0]!}`] });
    clients.push(shared);
    const map = await shared.topology();
    const shardOf = (key: string): number => map.shardOf(key);
    assert.equal(new Set(KEYS.map(shardOf)).size, 3, 'the hot keys span the three shards');
    const own = loopClients(LOOPS, (i) => (i % 3 === 0 ? undefined : nodes[i % 3]), shared, clients);
    const load = startLinLoad({
      seed,
      keys: KEYS,
      loops: LOOPS,
      opsPerLoop: OPS,
      clientOf: (i) => own[i]!,
      maxMs: 60000,
      wShare: 0.2,
      // The node that hosts nothing of the key's shard: it redirects, relays or forwards.
      raw: { share: 0.2, nodeOf: (key) => nodes[(shardOf(key) + 2) % 3]!, kinds: ['single', 'batch'] },
    });
    await load.done;
    await readAll(load.recorder, shared, KEYS);
    const { figures, what } = expectLinearizable(t, load.recorder, seed, LOOPS * OPS * 0.9);
    assert.ok(figures.single >= 50, `key requests went to non-owners: ${what}`);
    assert.ok(figures.batch >= 30, `batches were forwarded: ${what}`);
    assert.equal(figures.unknown, 0, `no write's outcome unknown without faults: ${what}`);
  });
});
