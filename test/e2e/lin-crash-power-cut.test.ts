/**
 * Linearizability through a power cut in `interval` mode, restarted in place with no failover: the
 * scenario of lin-crash-restart.test.ts (one process serving the default layout, 10 loops on 4 hot
 * keys, clients that wait out the restart), killed with SIGKILL once after 600 operations, at a
 * moment an acknowledged write lies above its shard's `syncedSeq` (GET /stats, once a sync took some), and its commit log then cut back as a power cut leaves it: zeroed from the offset its last sync mark
 * says was synced (CrashingNode.powerCut), so what was written after the last `fsync_interval_ms`
 * sync is gone.
 *
 * What `interval` promises (docs/architecture.md, "Storage"; docs/api.md, `syncedSeq`; docs/failover.md,
 * "A leader restarting after a crash"): a write is acknowledged, and shown, once written, before
 * its sync, so a power cut may take acknowledged writes and writes readers saw, those of the last
 * interval; the restart finds its lossy `RUNNING` marker and starts a new epoch per shard at its
 * recovered last seq + 1. So the history is linearizable with one allowance per key, the checker's
 * failover op marked `lossy` (test/helpers/linearizability.ts), its fork the restart epoch's
 * firstSeq - 1: every write at or below the fork is kept, every write above it (acknowledged or not)
 * is undone at the crash, and reads and 412s before it may have seen such writes; nothing else.
 * Not trivial: the cut took acknowledged writes (so the plain failover op, which keeps them, fails),
 * all of them answered within a few seconds of the kill; reads and writes followed the restart.
 * DISTKV_SEED replays the operations' choices (not the timing).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/failover-model.js';
import {
  CrashingNode,
  expectServedAfterRestarts,
  figuresAfterRestarts,
  runCrashLoad,
} from '../helpers/lin-crash.js';
import { forkOf } from '../helpers/lin-fault-load.js';
import { figuresOf, versionOf } from '../helpers/lin-load.js';
import { checkHistory, compareVersions, type Op } from '../helpers/linearizability.js';
import { testSeed } from '../helpers/random.js';

const KEYS = ['lin-a', 'lin-b', 'lin-c', 'lin-d'];
const LOOPS = 10;
const OPS_BETWEEN = 600;
/**
 * SYNC_INTERVAL_MS is the node's `fsync_interval_ms`: long, so that the kill, sent once an
 * acknowledged write is seen above its shard's `syncedSeq`, comes before the next sync (at the
 * default 100 ms, a loaded machine's late answers could all be synced before the kill).
 */
const SYNC_INTERVAL_MS = 1000;
/** LOST_WITHIN_MS bounds how long before the kill a write the cut took was answered (one interval, a loaded machine's delays). */
const LOST_WITHIN_MS = 5000;

describe('linearizability through a power cut in interval mode', { timeout: 120_000 }, () => {
  let node: CrashingNode | undefined;
  before(async () => {
    node = await CrashingNode.start('interval', SYNC_INTERVAL_MS);
  });
  after(async () => {
    await node?.stop();
  });

  it('undoes exactly the writes above the recovered seq, acknowledged ones included', async (t) => {
    const seed = testSeed();
    let forks: string[] = [];
    let epochs: number[] = [];
    const run = await runCrashLoad(node!, {
      seed,
      keys: KEYS,
      loops: LOOPS,
      kills: 1,
      opsBetween: OPS_BETWEEN,
      powerCut: true,
      beforeKill: async (load, shardOf) => {
        const names = (await node!.map()).shards.map((s) => s.name);
        await waitFor("an acknowledged write above its synced shard's syncedSeq", async () => {
          const synced = await node!.syncedSeqs();
          return load.recorder.ops.some((op) => {
            const v = op.input.kind === 'get' || op.output.kind !== 'ok' ? undefined : versionOf(op.output);
            const s = synced.get(names[shardOf.get(op.key)!]!)!;
            return v !== undefined && s > 0 && Number(v.split('.')[1]) > s;
          });
        });
      },
      afterRestart: () =>
        waitFor('the restart to start an epoch in every shard', async () => {
          const map = await node!.map();
          const started = map.shards.every((s) => s.history.some((h) => h.restart === true));
          if (started) {
            forks = map.shards.map(forkOf);
            epochs = map.shards.map((s) => s.epoch);
          }
          return started;
        }),
    });
    const kill = run.kills[0]!;
    const forkOfKey = (key: string): string => forks[run.shardOf.get(key)!]!;
    const crash = (lossy: boolean): Op[] =>
      KEYS.map((key) => ({
        key,
        call: kill.killedAt,
        ret: kill.servedAt,
        input: {
          kind: 'failover',
          fork: forkOfKey(key),
          epoch: epochs[run.shardOf.get(key)!]!,
          ...(lossy ? { lossy: true as const } : {}),
        },
        output: { kind: 'ok' },
        client: 'crash',
      }));
    const ops = run.load.recorder.ops;
    const aboveFork = (op: Op): boolean => {
      const v = versionOf(op.output);
      return op.ret < kill.killedAt && v !== undefined && compareVersions(v, forkOfKey(op.key)) > 0;
    };
    const lost = ops.filter((op) => op.input.kind !== 'get' && op.output.kind === 'ok' && aboveFork(op));
    const seen = ops.filter(
      (op) => (op.output.kind === 'found' || op.output.kind === 'failed') && aboveFork(op),
    );
    const f = figuresOf(ops);
    const lostSpanMs = Math.round(kill.killedAt - Math.min(...lost.map((op) => op.ret)));
    const what = `DISTKV_SEED=${seed}; cut ${JSON.stringify(kill.cut)}, forks ${JSON.stringify(forks)}; ${lost.length} acknowledged writes lost (the oldest answered ${lostSpanMs} ms before the kill), ${seen.length} answers saw writes lost; ${JSON.stringify(f)}; after the restart ${JSON.stringify(figuresAfterRestarts(run))}; errors ${JSON.stringify([...run.load.recorder.errors])}`;
    t.diagnostic(what);
    const verdict = checkHistory([...ops, ...crash(true)]);
    assert.ok(verdict.ok, `${verdict.ok ? '' : verdict.report}\n${what}`);
    assert.ok(kill.cut!.bytes > 0, `the cut took bytes written after the last sync: ${what}`);
    assert.ok(lost.length >= 1, `the cut took acknowledged writes: ${what}`);
    assert.equal(
      checkHistory([...ops, ...crash(false)]).ok,
      false,
      'a failover that keeps acknowledged writes does not explain it',
    );
    assert.ok(lostSpanMs < LOST_WITHIN_MS, `only writes of the last moments were lost: ${what}`);
    assert.ok(
      f.found >= 50 && f.casOk >= 10 && f.failed >= 10,
      `reads found values, CASes applied and were refused: ${what}`,
    );
    expectServedAfterRestarts(run);
  });
});
