/**
 * The workload and the failover step of the linearizability scenarios with faults
 * (test/e2e/lin-forced-*.test.ts, lin-etcd-*.test.ts): lin-load.ts's loops through the client
 * library only, every write with `w: 1`; after an operation that failed or whose outcome is
 * unknown a loop waits ERROR_PAUSE_MS, so a leader that is gone does not spend its count at once.
 */
import assert from 'node:assert/strict';
import type { LiveShard } from '../../src/routing/live-map.js';
import { epochOfSeq } from '../../src/routing/version.js';
import { clusterOf, leaderSeenBy, waitFor } from './failover-model.js';
import { figuresOf, type LinLoad, type LinLoadOptions, startLinLoad, versionOf } from './lin-load.js';
import { checkHistory, type Op } from './linearizability.js';

/** ERROR_PAUSE_MS is how long a loop waits after an operation that failed or whose outcome is unknown. */
const ERROR_PAUSE_MS = 25;
/** W_TIMEOUT_MS bounds a write's wait for its replica's ack (504 REPLICATION_TIMEOUT after it: an unknown outcome). */
const W_TIMEOUT_MS = 3000;

/** FaultLoadOptions configure startFaultLoad: lin-load.ts's, without raw requests or pauses. */
export type FaultLoadOptions = Pick<
  LinLoadOptions,
  'seed' | 'keys' | 'loops' | 'opsPerLoop' | 'clientOf' | 'maxMs' | 'read'
>;

/** FaultLoad is a running load: `stop` ends its loops early, `done` resolves when they end. */
export type FaultLoad = LinLoad;

/** startFaultLoad starts lin-load.ts's loops, every write with `w: 1`, pausing after an error. */
export function startFaultLoad(o: FaultLoadOptions): FaultLoad {
  return startLinLoad({ ...o, write: { w: 1, timeoutMs: W_TIMEOUT_MS }, errorPauseMs: ERROR_PAUSE_MS });
}

/**
 * forkOf is the last version the new epoch of `shard` kept, 'E.F' (the old epoch and the seq before
 * the new epoch's firstSeq): writes of the old leader above it are undone by the failover.
 */
export function forkOf(shard: LiveShard): string {
  const start = shard.history.find((h) => h.epoch === shard.epoch);
  if (start === undefined) throw new Error(`the map names no start for epoch ${shard.epoch}`);
  const f = start.firstSeq - 1;
  return `${epochOfSeq(shard.history, f)}.${f}`;
}

/** forkAt is the fork (forkOf) of shard 0 in `node`'s live map, with the epoch its leader writes in now. */
export async function forkAt(node: string): Promise<{ fork: string; epoch: number }> {
  const shard = (await clusterOf(node)).map.shards[0]!;
  return { fork: forkOf(shard), epoch: shard.epoch };
}

/**
 * failoverOps are the failover's operations, one per key, from `call` (the leader stopped) to `ret`
 * (the new leader seen named); `epoch` is the new leader's (versions above the fork after the
 * failover must be of it or later).
 */
export function failoverOps(
  keys: readonly string[],
  call: number,
  ret: number,
  fork: string,
  epoch: number,
): Op[] {
  return keys.map((key) => ({
    key,
    call,
    ret,
    input: { kind: 'failover', fork, epoch },
    output: { kind: 'ok' },
    client: 'failover',
  }));
}

/** leaderWithLease waits (up to `ms`) until `node`'s map names a leader that holds its lease, and returns it. */
export async function leaderWithLease(node: string, ms = 40_000): Promise<string> {
  let leader = '';
  await waitFor(
    'a leader to hold its lease',
    async () => {
      leader = (await leaderSeenBy(node)) ?? '';
      return leader !== '' && (await clusterOf(leader)).shards[0]!.leader.writes_held !== true;
    },
    ms,
  );
  return leader;
}

/** electedOver waits (up to `ms`) until `node`'s map names a leader other than `old`, and returns it. */
export async function electedOver(node: string, old: string, ms = 30_000): Promise<string> {
  let now = '';
  await waitFor(
    'a replica to be elected',
    async () => {
      now = (await leaderSeenBy(node)) ?? '';
      return now !== '' && now !== old;
    },
    ms,
  );
  return now;
}

/** RUN_WAIT_MS bounds untilRun's wait. */
const RUN_WAIT_MS = 40_000;

/**
 * untilRun waits until the load has run `count` operations called after `since` (all of them by
 * default), `casOk` compare-and-sets among all it ran having succeeded.
 */
export async function untilRun(
  load: FaultLoad,
  what: string,
  count: number,
  since = -Infinity,
  casOk = 0,
): Promise<void> {
  await waitFor(
    `the load to run ${what}`,
    () => {
      const f = figuresOf(load.recorder.ops, since);
      return Promise.resolve(f.after >= count && f.casOk >= casOk);
    },
    RUN_WAIT_MS,
  );
}

/** readsAboveFork counts the reads that named a version above `fork` in its epoch: values a failover then undid. */
export function readsAboveFork(ops: readonly Op[], fork: string): number {
  return sawAboveFork(
    ops.filter((op) => op.input.kind === 'get'),
    fork,
  );
}

/** sawAboveFork counts the answers before the failover that named a version above `fork` in its epoch: reads and 412s that saw a write later lost. */
export function sawAboveFork(ops: readonly Op[], fork: string): number {
  const [epoch, seq] = fork.split('.').map(Number) as [number, number];
  return ops.filter((op) => {
    const v = versionOf(op.output);
    if (v === undefined || (op.output.kind !== 'found' && op.output.kind !== 'failed')) return false;
    const [e, s] = v.split('.').map(Number) as [number, number];
    return e === epoch && s > seq;
  }).length;
}

/**
 * expectLinearizable checks a fault scenario's history with its failover ops, prints its figures
 * and DISTKV_SEED, and asserts it was not trivial: reads that found values, compare-and-sets that
 * succeeded and 412s, and at least `after` operations called after `since` (the promotion).
 */
export function expectLinearizable(
  load: FaultLoad,
  failover: readonly Op[],
  o: { seed: number; fork: string; since: number; after: number },
): void {
  const ops = load.recorder.ops;
  const f = figuresOf(ops, o.since);
  console.log(
    `DISTKV_SEED=${o.seed}: ${JSON.stringify(f)}, fork ${o.fork}, ${sawAboveFork(ops, o.fork)} answers saw a write above it, errors ${JSON.stringify([...load.recorder.errors])}`,
  );
  const verdict = checkHistory([...ops, ...failover]);
  assert.ok(verdict.ok, verdict.ok ? '' : `DISTKV_SEED=${o.seed}\n${verdict.report}`);
  assert.ok(f.found >= 100, `${f.found} reads found a value`);
  assert.ok(f.casOk >= 10, `${f.casOk} compare-and-sets succeeded`);
  assert.ok(f.failed >= 10, `${f.failed} writes answered 412`);
  assert.ok(f.after >= o.after, `${f.after} operations after the failover`);
}
