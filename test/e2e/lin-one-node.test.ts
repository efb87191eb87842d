/**
 * Linearizability of single-key operations on one process with the default layout (4 shards, each
 * leader with replicas, all in one `distkv serve`, fsync durability): 12 concurrent loops, half
 * sharing one client and half with their own, run random reads, puts, deletes, compare-and-set
 * and create-only writes (some with `w: 1`) on 4 hot keys of different shards through the client
 * library; the recorded history must be linearizable (test/helpers/linearizability.ts), and it must
 * not be trivial. DISTKV_SEED replays a run's choices (not its timing).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { seedLayout } from '../helpers/cluster.js';
import { expectLinearizable, loopClients, readAll, startLinLoad } from '../helpers/lin-load.js';
import { testSeed } from '../helpers/random.js';
import { type OwnServer, startOwnServer } from '../helpers/server-process.js';

const KEYS = ['lin-a', 'lin-b', 'lin-c', 'lin-d'];
const LOOPS = 12;
const OPS = 250;

let own: OwnServer | undefined;
const clients: DistkvClient[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await own?.stop();
});
let leaders: string[] = [];

before(async () => {
  const layout = await seedLayout();
  leaders = layout.map((s) => s.address);
  own = await startOwnServer(layout, '', ['--workers', '1', '--durability', 'fsync']);
});

describe('linearizability on one node', { timeout: 120000 }, () => {
  it('gives every concurrent client answers one order of the operations explains', async (t) => {
    const seed = testSeed();
    const urls = leaders.map((a) => `http://${a}`);
    const shared = new DistkvClient({ urls });
    clients.push(shared);
    const own = loopClients(
      LOOPS,
      (i) => (i % 2 === 0 ? undefined : leaders[i % leaders.length]),
      shared,
      clients,
    );
    const map = await shared.topology();
    const shards = new Set(KEYS.map((k) => map.shardOf(k)));
    assert.ok(shards.size >= 3, `the hot keys span shards (${[...shards].join(', ')})`);
    const load = startLinLoad({
      seed,
      keys: KEYS,
      loops: LOOPS,
      opsPerLoop: OPS,
      clientOf: (i) => own[i]!,
      maxMs: 60000,
      wShare: 0.3,
    });
    await load.done;
    await readAll(load.recorder, shared, KEYS);
    const { figures, what } = expectLinearizable(t, load.recorder, seed, LOOPS * OPS * 0.9);
    assert.equal(figures.unknown, 0, `no write's outcome unknown on a healthy node: ${what}`);
  });
});
