/**
 * The randomized model test of the Store seam: random command sequences (store-model-ops.ts) run
 * against a Store and against a KvModel (a Map), and after every step every key, a full scan and
 * lastSeq must agree. fast-check generates the sequences from a seed and shrinks a failing one to
 * a short script; the report names the seed and path that replay it (DISTKV_SEED, DISTKV_MODEL_PATH).
 *
 * Versions and expiry are checked too: every key's seq (its version) in reads and scans, and values
 * hidden once a fake clock, shared by store and model, reaches their expiry.
 *
 * Each target opens one Store implementation on a fresh directory with a generated configuration
 * (for the LSM store: small memtables, segments and max_runs, so flushes, compactions and WAL
 * rollover happen within a few commands).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Durability } from '../../src/config/schema.js';
import { LmdbStore } from '../../src/storage/lmdb-store.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import type { Store } from '../../src/storage/store.js';
import { openTestLsm } from '../helpers/lsm.js';
import { KvModel } from '../helpers/model.js';
import {
  cursorBytes,
  formatOp,
  KEYS,
  keyName,
  LSM_MEMTABLE_BYTES,
  LSM_SEGMENT_BYTES,
  type ModelOp,
  modelOp,
  PREFIXES,
  valueBytes,
  type Write,
} from './store-model-ops.js';

/** Opened is a store under test with its engine's flush and wait-for-background-work hooks. */
export interface Opened {
  store: Store;
  /** flush moves the memtable to a run (no-op for engines without one). */
  flush(): Promise<void>;
  /** idle waits for background flushes and compactions (no-op for engines without them). */
  idle(): Promise<void>;
}

/** ModelTarget is one Store implementation the model test drives. */
export interface ModelTarget<C> {
  name: string;
  /** persistent: data survives close and reopen (then `reopen` is a command). */
  persistent: boolean;
  config: fc.Arbitrary<C>;
  /** open opens the store on `dir`, comparing expiries with `clock`. */
  open(dir: string, config: C, clock: () => number): Promise<Opened>;
}

const durability = fc.constantFrom<Durability>('fsync', 'interval', 'none');
const noop = (): Promise<void> => Promise.resolve();

/** memoryTarget drives MemoryStore. */
export const memoryTarget: ModelTarget<null> = {
  name: 'MemoryStore',
  persistent: false,
  config: fc.constant(null),
  open: (_dir, _c, clock) => Promise.resolve({ store: new MemoryStore(clock), flush: noop, idle: noop }),
};

/** lmdbTarget drives LmdbStore in every durability mode. */
export const lmdbTarget: ModelTarget<{ durability: Durability }> = {
  name: 'LmdbStore',
  persistent: true,
  config: fc.record({ durability }),
  open: (dir, c, clock) =>
    Promise.resolve({
      store: new LmdbStore({ dir, durability: c.durability, fsyncIntervalMs: 20, clock }),
      flush: noop,
      idle: noop,
    }),
};

/** LsmModelConfig is the generated LSM configuration. */
export interface LsmModelConfig {
  durability: Durability;
  memtableBytes: number;
  maxRuns: number;
  walSegmentBytes: number;
  ringBytes: number;
}

/** lsmTarget drives LsmStore with small memtables, segments, runs and replication ring. */
export const lsmTarget: ModelTarget<LsmModelConfig> = {
  name: 'LsmStore',
  persistent: true,
  config: fc.record({
    durability,
    memtableBytes: fc.constantFrom(...LSM_MEMTABLE_BYTES),
    maxRuns: fc.constantFrom(1, 2, 4),
    walSegmentBytes: fc.constantFrom(...LSM_SEGMENT_BYTES),
    ringBytes: fc.constantFrom(4096, 1 << 20),
  }),
  open: async (dir, c, clock) => {
    const s = await openTestLsm(dir, { ...c, clock });
    return { store: s, flush: () => s.flush(), idle: () => s.idle() };
  },
};

/** Tally counts, over all runs of one check, what the runs exercised. */
export interface Tally {
  runs: number;
  steps: number;
  bytesWritten: number;
  reopens: number;
  /** flushes and compactions the LSM store reported (from its stats, summed at each close). */
  flushes: number;
  compactions: number;
  /** firstFailure: the run that failed first and the milliseconds from the start until it did (before shrinking). */
  firstFailure: { run: number; ms: number } | undefined;
  startedAt: number;
}

/** newTally returns an empty Tally. */
export function newTally(): Tally {
  return {
    runs: 0,
    steps: 0,
    bytesWritten: 0,
    reopens: 0,
    flushes: 0,
    compactions: 0,
    firstFailure: undefined,
    startedAt: performance.now(),
  };
}

function describeBytes(v: Uint8Array | undefined): string {
  return v === undefined ? 'absent' : `${v.length} B`;
}

/** sameBytes asserts `actual` equals `expected`, naming the first differing byte. */
function sameBytes(actual: Uint8Array | undefined, expected: Uint8Array | undefined, what: string): void {
  if (actual === undefined || expected === undefined) {
    assert.ok(
      actual === expected,
      `${what}: got ${describeBytes(actual)}, expected ${describeBytes(expected)}`,
    );
    return;
  }
  if (Buffer.compare(actual, expected) === 0) return;
  let i = 0;
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) i++;
  assert.fail(
    `${what}: got ${actual.length} B, expected ${expected.length} B; first difference at byte ${i} (got ${actual[i] ?? 'end'}, expected ${expected[i] ?? 'end'})`,
  );
}

type Entry = { key: Uint8Array; value: Uint8Array; seq: number; expiresAtMs: number };

function sameEntries(actual: readonly Entry[], expected: readonly Entry[], what: string): void {
  const names = (es: readonly { key: Uint8Array }[]): string[] => es.map((e) => keyName(Buffer.from(e.key)));
  assert.deepEqual(names(actual), names(expected), `${what}: keys`);
  for (let i = 0; i < expected.length; i++) {
    sameBytes(actual[i]!.value, expected[i]!.value, `${what}: value of ${names(expected)[i]!}`);
    assert.equal(actual[i]!.seq, expected[i]!.seq, `${what}: version seq of ${names(expected)[i]!}`);
    assert.equal(
      actual[i]!.expiresAtMs,
      expected[i]!.expiresAtMs,
      `${what}: expiry of ${names(expected)[i]!}`,
    );
  }
}

/** checkAll compares every key (value, version, expiry), a full scan and lastSeq with the model. */
function checkAll(store: Store, model: KvModel): void {
  for (const k of KEYS) {
    sameBytes(store.get(k), model.get(k), `get ${keyName(k)}`);
    const r = store.read(k);
    const m = model.entry(k);
    assert.equal(r?.seq, m?.seq, `version seq of ${keyName(k)}`);
    assert.equal(r?.expiresAtMs, m?.expiresAtMs, `expiry of ${keyName(k)}`);
  }
  const all = Buffer.alloc(0);
  sameEntries(
    store.scan(all, undefined, KEYS.length + 1),
    model.scan(all, undefined, KEYS.length + 1),
    'full scan',
  );
  assert.equal(store.lastSeq(), model.seq, 'lastSeq');
}

/** applyWrites issues writes in one event-loop turn (one group commit) and checks their seqs. */
async function applyWrites(
  store: Store,
  model: KvModel,
  writes: readonly Write[],
  tally: Tally,
  now: number,
): Promise<void> {
  const issued: Promise<{ seq: number }>[] = [];
  const expected: number[] = [];
  for (const w of writes) {
    const k = KEYS[w.key]!;
    if (w.size === null) {
      issued.push(store.delete(k));
      expected.push(model.delete(k));
    } else {
      const v = valueBytes(w.size, w.tag);
      tally.bytesWritten += w.size;
      const expiresAtMs = w.ttl ? now + w.ttl : 0;
      issued.push(store.put(k, v, expiresAtMs));
      expected.push(model.put(k, v, expiresAtMs));
    }
  }
  const seqs = (await Promise.all(issued)).map((r) => r.seq);
  assert.deepEqual(seqs, expected, 'write seqs');
}

async function closeCounting(o: Opened, tally: Tally): Promise<void> {
  const st = o.store.stats();
  tally.flushes += typeof st.flushes === 'number' ? st.flushes : 0;
  tally.compactions += typeof st.compactions === 'number' ? st.compactions : 0;
  await o.store.close();
}

/** StepFailure is thrown by runSequence: which step (1-based) diverged, and how. */
export class StepFailure extends Error {
  readonly step: number;
  constructor(step: number, message: string, cause: unknown) {
    super(message, { cause });
    this.step = step;
  }
}

/** runSequence opens a target on a fresh directory and runs `ops`, checking after every step. */
export async function runSequence<C>(
  target: ModelTarget<C>,
  config: C,
  ops: readonly ModelOp[],
  tally: Tally,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'distkv-model-'));
  const time = { now: 1_000_000 };
  const clock = (): number => time.now;
  const model = new KvModel(clock);
  let o: Opened | undefined;
  tally.runs++;
  try {
    o = await target.open(dir, config, clock);
    for (const [i, op] of ops.entries()) {
      tally.steps++;
      try {
        const s: Store = o.store;
        switch (op.op) {
          case 'put':
          case 'delete':
            await applyWrites(
              s,
              model,
              [
                op.op === 'put'
                  ? { key: op.key, size: op.size, tag: op.tag, ttl: op.ttl ?? 0 }
                  : { key: op.key, size: null, tag: 0 },
              ],
              tally,
              time.now,
            );
            break;
          case 'expire': {
            const k = KEYS[op.key]!;
            const r: { seq: number } = await s.expire(k);
            assert.equal(r.seq, model.delete(k), 'expire seq');
            break;
          }
          case 'tick':
            time.now += op.ms;
            break;
          case 'batch':
            await applyWrites(s, model, op.writes, tally, time.now);
            break;
          case 'get':
            sameBytes(s.get(KEYS[op.key]!), model.get(KEYS[op.key]!), 'get');
            break;
          case 'scan': {
            const after = op.after === null ? undefined : cursorBytes(op.after);
            const p = PREFIXES[op.prefix]!;
            sameEntries(s.scan(p, after, op.limit), model.scan(p, after, op.limit), 'scan');
            break;
          }
          case 'flush':
            await o.flush();
            break;
          case 'idle':
            await o.idle();
            break;
          case 'reopen': {
            const closing = o;
            o = undefined;
            await closeCounting(closing, tally);
            o = await target.open(dir, config, clock);
            tally.reopens++;
            break;
          }
        }
        checkAll(o.store, model);
      } catch (err) {
        tally.firstFailure ??= { run: tally.runs, ms: performance.now() - tally.startedAt };
        throw new StepFailure(i + 1, `step ${i + 1} (${formatOp(op)}): ${(err as Error).message}`, err);
      }
    }
  } finally {
    if (o !== undefined) await closeCounting(o, tally).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** ModelRunOptions say how long a check runs and how to replay it. */
export interface ModelRunOptions {
  seed: number;
  numRuns: number;
  maxSteps: number;
  /** timeLimitMs stops starting new runs (and shrinking) after this long. */
  timeLimitMs: number;
  /** path replays one counterexample of `seed` (fast-check's path, printed with a failure). */
  path?: string;
}

/** checkModel runs the model test on `target` and throws a report (seed, path, shrunk script) on failure. */
export async function checkModel<C>(target: ModelTarget<C>, o: ModelRunOptions): Promise<Tally> {
  const tally = newTally();
  const property = fc.asyncProperty(
    target.config,
    fc.array(modelOp(target.persistent), { minLength: 1, maxLength: o.maxSteps, size: 'max' }),
    (config, ops) => runSequence(target, config, ops, tally),
  );
  const details = await fc.check<[C, ModelOp[]]>(property, {
    seed: o.seed,
    numRuns: o.numRuns,
    plugins: [fc.interruptAfterTimeLimit(o.timeLimitMs)],
    ...(o.path === undefined ? {} : { path: o.path }),
  });
  if (!details.failed) return tally;
  const [config, all] = details.counterexample ?? [null, []];
  const err = details.errorInstance;
  // The steps after the one that diverged never ran: the script ends at the failing step.
  const ops = err instanceof StepFailure ? all.slice(0, err.step) : all;
  const lines = [
    `${target.name} diverged from the model: ${err instanceof Error ? err.message : String(err)}`,
    `seed ${details.seed}, path ${details.counterexamplePath ?? '-'}: replay with DISTKV_SEED=${details.seed} DISTKV_MODEL_PATH=${details.counterexamplePath ?? ''}`,
    `first failed in run ${tally.firstFailure?.run ?? '?'} after ${((tally.firstFailure?.ms ?? 0) / 1000).toFixed(1)} s; shrunk ${details.numShrinks} times in ${((performance.now() - tally.startedAt) / 1000).toFixed(1)} s in all`,
    `config ${JSON.stringify(config)}`,
    `shrunk sequence (${ops.length} steps):`,
    ...ops.map((op, i) => `  ${i + 1}. ${formatOp(op)}`),
  ];
  throw new Error(lines.join('\n'), { cause: err });
}
