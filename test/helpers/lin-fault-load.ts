/**
 * The workload and the failover step of the linearizability scenarios with faults
 * (test/e2e/lin-forced-*.test.ts, lin-etcd-*.test.ts): a few hot keys, many concurrent loops in
 * the test process, each a bounded count of random single-key operations through the client
 * library (get 40 %, put 25 %, compare-and-set put with ifMatch the version this loop last saw
 * 15 %, create-only put 5 %, delete 10 %, compare-and-set delete 5 %), every write with `w: 1`,
 * values unique per write (`<loop>-<n>`), each recorded by a HistoryRecorder for the checker
 * (test/helpers/linearizability.ts). A loop stops at its count, at the deadline or when stopped;
 * after an operation that failed or whose outcome is unknown it waits ERROR_PAUSE_MS, so a leader
 * that is gone does not spend its count at once.
 */
import assert from 'node:assert/strict';
import type { DistkvClient } from '../../src/client/client.js';
import type { LiveShard } from '../../src/routing/live-map.js';
import { epochOfSeq } from '../../src/routing/version.js';
import { waitFor } from './failover-model.js';
import { HistoryRecorder } from './history-recorder.js';
import { checkHistory, type Op, type OpOutput } from './linearizability.js';
import { seededRandom } from './random.js';

/** ERROR_PAUSE_MS is how long a loop waits after an operation that failed or whose outcome is unknown. */
const ERROR_PAUSE_MS = 25;
/** W_TIMEOUT_MS bounds a write's wait for its replica's ack (504 REPLICATION_TIMEOUT after it: an unknown outcome). */
const W_TIMEOUT_MS = 3000;

/** FaultLoadOptions configure startFaultLoad. */
export interface FaultLoadOptions {
  seed: number;
  keys: readonly string[];
  loops: number;
  /** opsPerLoop bounds each loop's operations. */
  opsPerLoop: number;
  /** clientOf gives loop `i` its client (its own, or one shared by several loops). */
  clientOf: (loop: number) => DistkvClient;
  /** maxMs bounds the whole load. */
  maxMs: number;
}

/** FaultLoad is a running load: `stop` ends its loops early, `done` resolves when they end. */
export interface FaultLoad {
  recorder: HistoryRecorder;
  stop: () => void;
  done: Promise<void>;
}

/** versionOf is the version an answer names, if any. */
function versionOf(out: OpOutput | undefined): string | undefined {
  if (out === undefined) return undefined;
  if (out.kind === 'found' || out.kind === 'ok') return out.version;
  if (out.kind === 'failed' && typeof out.current === 'string') return out.current;
  return undefined;
}

/** startFaultLoad starts the loops. */
export function startFaultLoad(o: FaultLoadOptions): FaultLoad {
  const recorder = new HistoryRecorder();
  const deadline = performance.now() + o.maxMs;
  let stopped = false;
  const loop = async (i: number): Promise<void> => {
    const rand = seededRandom(o.seed + i * 7919);
    const kv = o.clientOf(i);
    const name = `c${i}`;
    const seen = new Map<string, string>(); // key → the last version this loop saw
    for (let n = 0; n < o.opsPerLoop && !stopped && performance.now() < deadline; n++) {
      const key = o.keys[Math.floor(rand() * o.keys.length)]!;
      const value = `${i}-${n}`;
      const r = rand();
      const last = seen.get(key);
      const before = recorder.ops.length;
      let answered: unknown;
      if (r < 0.4 || (last === undefined && ((r >= 0.65 && r < 0.8) || r >= 0.95)))
        answered = await recorder.get(kv, name, key);
      else if (r < 0.65)
        answered = await recorder.put(kv, name, key, value, { w: 1, timeoutMs: W_TIMEOUT_MS });
      else if (r < 0.8)
        answered = await recorder.put(kv, name, key, value, {
          ifMatch: last!,
          w: 1,
          timeoutMs: W_TIMEOUT_MS,
        });
      else if (r < 0.85)
        answered = await recorder.put(kv, name, key, value, {
          ifNoneMatch: true,
          w: 1,
          timeoutMs: W_TIMEOUT_MS,
        });
      else if (r < 0.95) answered = await recorder.delete(kv, name, key, { w: 1, timeoutMs: W_TIMEOUT_MS });
      else answered = await recorder.delete(kv, name, key, { ifMatch: last!, w: 1, timeoutMs: W_TIMEOUT_MS });
      // The version this operation named (a read's, a write's new one, a 412's current), if recorded.
      const op = recorder.ops.length > before ? recorder.ops.findLast((x) => x.client === name) : undefined;
      const v = versionOf(op?.output);
      if (v !== undefined) seen.set(key, v);
      if (answered === undefined) await new Promise((done) => setTimeout(done, ERROR_PAUSE_MS));
    }
  };
  const done = Promise.all(Array.from({ length: o.loops }, (_, i) => loop(i))).then(() => undefined);
  return {
    recorder,
    stop: () => {
      stopped = true;
    },
    done,
  };
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

/** failoverOps are the failover's operations, one per key, from `call` (the leader stopped) to `ret` (the new leader seen named). */
export function failoverOps(keys: readonly string[], call: number, ret: number, fork: string): Op[] {
  return keys.map((key) => ({
    key,
    call,
    ret,
    input: { kind: 'failover', fork },
    output: { kind: 'ok' },
    client: 'failover',
  }));
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

/** HistoryFigures count what a history holds, for a test to show it was not trivial. */
export interface HistoryFigures {
  ops: number;
  found: number;
  writesOk: number;
  casOk: number;
  failed: number;
  unknown: number;
  /** after counts the operations called after `since`. */
  after: number;
}

/** figuresOf counts a history's operations by kind and outcome; `since` splits them in time. */
export function figuresOf(ops: readonly Op[], since = Infinity): HistoryFigures {
  const f: HistoryFigures = { ops: 0, found: 0, writesOk: 0, casOk: 0, failed: 0, unknown: 0, after: 0 };
  for (const op of ops) {
    if (op.input.kind === 'failover') continue;
    f.ops++;
    if (op.call > since) f.after++;
    if (op.output.kind === 'found') f.found++;
    if (op.output.kind === 'failed') f.failed++;
    if (op.output.kind === 'unknown') f.unknown++;
    if (op.output.kind === 'ok') {
      f.writesOk++;
      if (op.input.kind !== 'get' && op.input.ifMatch !== undefined) f.casOk++;
    }
  }
  return f;
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
