/**
 * Linearizability of single-key operations while the leader moves by planned failovers
 * (`distkv failover --to`, docs/failover.md): one shard led by A with replicas B and C, each its
 * own process. 12 loops on 4 hot keys, each client loaded from another member (so after each
 * switch some hold a stale map: requests meet SWITCHING_LEADER waits and 307s), a share of the
 * writes as one-operation batches sent to any member (forwarded to the leader by the others),
 * while the leader moves A → B → C → A. Writes refused during a switch were not run; the history,
 * closed by a read of every key, must be linearizable (so no acknowledged write is lost).
 * DISTKV_SEED replays a run's choices (not its timing).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DistkvClient } from '../../src/client/client.js';
import { failoverTo, waitFor } from '../helpers/failover-model.js';
import { expectLinearizable, loopClients, readAll, startLinLoad } from '../helpers/lin-load.js';
import { testSeed } from '../helpers/random.js';
import { Trio } from '../helpers/trio.js';

const KEYS = ['lin-a', 'lin-b', 'lin-c', 'lin-d'];
const LOOPS = 12;
/** STEP is how many more operations the loops run before each failover and after the last. */
const STEP = 400;

let trio: Trio | undefined;
const clients: DistkvClient[] = [];

before(async () => {
  trio = await Trio.start('lin-48-failover');
  await trio.cluster.following();
});

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await trio?.stop();
});

describe('linearizability across planned failovers', { timeout: 180000 }, () => {
  it('explains by one order what every client saw while the leader moved three times', async (t) => {
    const seed = testSeed();
    const { A, B, C, members } = trio!;
    const own = loopClients(LOOPS, (i) => members[i % 3], undefined, clients);
    const load = startLinLoad({
      seed,
      keys: KEYS,
      loops: LOOPS,
      opsPerLoop: 5000,
      clientOf: (i) => own[i]!,
      maxMs: 120000,
      wShare: 0.3,
      // A third of the loops sleep between operations, through a switch at times: their next request
      // goes with a map from before it (to the old leader, a replica by then).
      pauseMs: (i) => (i % 3 === 2 ? 150 : 0),
      raw: { share: 0.1, nodeOf: (_key, pick) => members[Math.floor(pick * 3)]!, kinds: ['batch'] },
    });
    const moves: string[] = [];
    try {
      for (const to of [B, C, A]) {
        const before = load.count();
        await waitFor(`${STEP} more operations`, () => Promise.resolve(load.count() >= before + STEP), 60000);
        await failoverTo(to);
        moves.push(`${to} at op ${load.count()}`);
      }
      const last = load.count();
      await waitFor(`${STEP} more operations`, () => Promise.resolve(load.count() >= last + STEP), 60000);
    } finally {
      load.stop();
      await load.done;
    }
    const reader = new DistkvClient({ urls: [`http://${A}`] });
    clients.push(reader);
    await readAll(load.recorder, reader, KEYS);
    const { figures, what } = expectLinearizable(
      t,
      load.recorder,
      seed,
      4 * STEP,
      `moves ${moves.join(', ')}; `,
    );
    assert.ok(figures.batch >= 20, `batches were forwarded: ${what}`);
  });
});
