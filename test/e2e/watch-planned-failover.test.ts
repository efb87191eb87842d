/**
 * Client watches through planned failovers under write load (docs/watch.md, "Resuming";
 * docs/failover.md, "Planned failover"): one shard led by A with replicas B and C; four loops put
 * and delete 24 keys under the watched prefix through the client library while the leader moves
 * A → B by `failover --to`, A (then B's replica, still serving the watch streams) is stopped, so
 * the streams end (`resume`, draining) and the watchers resume at B, and the leader moves B → C.
 *
 * Two watchers, each applying its events to a map (test/helpers/watch-view.ts): one opened before
 * the load, and one opened at A while the first failover holds A's writes (a watch is not refused
 * by the hold: a stream of the log, not a read of a moment). The first failover's hold is kept
 * open for that by holding the target's following first (`POST /_admin/fence` at B, the call the
 * command makes): the command then waits for B to catch up with A's writes held.
 *
 * What it checks, for both: once the load stops, the watcher's map equals the leader's store
 * under the prefix exactly; within the shard the versions only grow and none comes twice; and
 * every acknowledged put came as a change with its version, key and value (no gap).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { failover } from '../../src/cli/failover.js';
import { fence, releaseFence } from '../../src/cli/failover-calls.js';
import { DistkvClient } from '../../src/client/client.js';
import { clusterOf, storeOf, waitFor } from '../helpers/failover-model.js';
import { Trio } from '../helpers/trio.js';
import { WatchView } from '../helpers/watch-view.js';

const PREFIX = 'wp:';
const KEYS = 24;
const LOOPS = 4;
/** OPS_PER_LOOP bounds each loop (it is stopped long before, once the failovers are done). */
const OPS_PER_LOOP = 20000;
/** STEP is how many writes the loops make before each failover and after the last. */
const STEP = 500;

/** PutSeen is an acknowledged put: the watchers must each have yielded it as a change. */
interface PutSeen {
  key: string;
  value: string;
  version: string;
}

/** startLoad runs the loops until `stop`; `puts` collects the acknowledged puts. */
function startLoad(client: DistkvClient): {
  stop: () => Promise<void>;
  puts: PutSeen[];
  count: () => number;
} {
  const puts: PutSeen[] = [];
  let stopped = false;
  let n = 0;
  const deadline = performance.now() + 90_000;
  const loops = Array.from({ length: LOOPS }, async (_, l) => {
    for (let i = 0; i < OPS_PER_LOOP && !stopped && performance.now() < deadline; i++) {
      const key = `${PREFIX}${(i * 7 + l * 5) % KEYS}`;
      const value = `${l}-${i}`;
      try {
        if (i % 5 === 4) await client.delete(key, { w: 1, timeoutMs: 5000 });
        else
          puts.push({
            key,
            value,
            version: await client.putVersioned(key, value, { w: 1, timeoutMs: 5000 }),
          });
        n++;
      } catch {
        // not acknowledged (a switch outlasted the client's waits): it may or may not have been applied
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  });
  return {
    puts,
    count: () => n,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

describe('client watches through planned failovers under write load', { timeout: 120000 }, () => {
  let trio: Trio;
  const clients: DistkvClient[] = [];
  const views: WatchView[] = [];

  before(async () => {
    trio = await Trio.start('watch-planned');
    await trio.cluster.following();
  });

  after(async () => {
    for (const v of views) await v.stop();
    for (const c of clients) await c.close();
    await trio.stop();
  });

  it('each watcher ends at the leader state with every acknowledged put once, in order', async () => {
    const { A, B, C, members } = trio;
    const urls = members.map((m) => `http://${m}`);
    const writer = new DistkvClient({ urls });
    const watching = new DistkvClient({ urls: [`http://${C}`, `http://${B}`, `http://${A}`] });
    clients.push(writer, watching);
    const early = new WatchView(watching, PREFIX, '0.0');
    views.push(early);
    const load = startLoad(writer);
    /** ran waits until the load made STEP more writes. */
    const ran = async (what: string): Promise<void> => {
      const target = load.count() + STEP;
      await waitFor(`the load to run ${what}`, () => Promise.resolve(load.count() >= target), 40000);
    };
    let held: WatchView | undefined;
    try {
      await waitFor('the load to run', () => Promise.resolve(load.count() >= STEP));

      // The first failover, A → B, with A's writes held while a new watch opens at A.
      const by = `watch-test-${String(process.pid)}`;
      const pinned = await fence('http', B, 0, { token: '' }, 20000, by);
      await waitFor(
        'A to take writes B does not follow',
        async () => (await storeOf(A)).lastSeq > pinned.last_seq,
      );
      const moving = failover({ urls, shard: 'shard-0', to: B, force: false, token: '', timeoutMs: 20000 });
      moving.catch(() => undefined);
      try {
        await waitFor(
          'A to hold its writes for the failover',
          async () => (await clusterOf(A)).shards[0]!.leader.writes_held === true,
        );
        const atA = new DistkvClient({ urls: [`http://${A}`] });
        clients.push(atA);
        const opened = new WatchView(atA, PREFIX, '0.0');
        held = opened;
        views.push(opened);
        await waitFor('the watch opened at the held leader to start', () =>
          Promise.resolve(opened.cursor !== '' || opened.failure !== undefined),
        );
        assert.equal(opened.failure, undefined, 'a watch at a held leader is not refused');
        assert.equal((await clusterOf(A)).shards[0]!.leader.writes_held, true, 'it opened during the hold');
      } finally {
        await releaseFence('http', B, 0, { token: '' }, by);
      }
      assert.equal((await moving).to, B);

      // A, now B's replica, is taken down (as after a planned failover for maintenance): its
      // streams end with `resume` (draining) and the watchers resume at B from their cursors.
      await ran('on B');
      await trio.cluster.stopNode(A);
      for (const view of [early, held])
        await waitFor(`the watch to resume at B (${JSON.stringify(view.streams)})`, () =>
          Promise.resolve(view.streams.includes(`up ${B}`)),
        );
      await ran('with the watchers at B');
      const moved = await failover({
        urls,
        shard: 'shard-0',
        to: C,
        force: false,
        token: '',
        timeoutMs: 20000,
      });
      assert.equal(moved.to, C);
      await ran('on C');
    } finally {
      await load.stop();
    }

    for (const view of [early, held]) {
      await view.reaches(C, PREFIX, 'after the failovers');
      assert.deepEqual(view.problems, [], 'versions only grew and none came twice');
      const missed = load.puts.filter((p) => view.puts.get(p.version) !== `${p.key}=${p.value}`);
      assert.deepEqual(missed.slice(0, 10), [], `${missed.length} acknowledged puts never came as a change`);
      assert.equal(view.snapshots, 0, 'no snapshot: the log held every position');
    }
    console.log(
      `${load.puts.length} acknowledged puts, ${load.count()} writes; watchers saw ${early.versions.length} and ${held.versions.length} changes; streams ${JSON.stringify([early.streams, held.streams])}`,
    );
  });
});
