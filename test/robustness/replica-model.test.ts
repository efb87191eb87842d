/**
 * The leader→replica model (design section 6: "a replica at seq S holds exactly the leader's state
 * at S"), checked with fast-check. Random steps drive an in-process pair (test/helpers/replica-pair.ts):
 * writes and deletes issued together (one group commit, one WAL batch) with value sizes over the
 * whole range 0..1 MiB and its boundaries (slab and block sizes, 256 KiB ± 1, the limit), follower
 * pauses, replica restarts, a leader cut off for a while, over a direct source or a small ring that
 * big batches lap, with the two stores in logs of their own or in one shared commit log (where a
 * caught-up replica is fed in its leader's batches). Small memtables, WAL segments and no retention make flushes, compactions and
 * snapshot resyncs happen along the way.
 *
 * The model is the leader's history by seq. Every time the follower publishes an ack A while it
 * follows, the replica's whole content is hashed; afterwards each hash must equal the hash of the
 * history replayed through A. At the end the replica must equal the leader and the leader the model.
 * A failure prints fast-check's seed, path and shrunk step list; DISTKV_SEED replays a seed.
 * The run in `npm test` is short and seeded; DISTKV_ROBUSTNESS=full runs many more, longer ones.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { ReplicaPair } from '../helpers/replica-pair.js';

const FULL = process.env.DISTKV_ROBUSTNESS === 'full';
const RUNS = FULL ? 150 : 20;
const MAX_STEPS = FULL ? 60 : 30;
const SEED =
  process.env.DISTKV_SEED !== undefined && process.env.DISTKV_SEED !== ''
    ? Number(process.env.DISTKV_SEED)
    : 12;
const KEYS = 8;
const MIB = 1024 * 1024;

/** Op is one write of a step: put `size` bytes made from `fill`, or delete. */
interface Op {
  key: number;
  del: boolean;
  size: number;
  fill: number;
}

/** Step is one step of a run. */
type Step =
  | { t: 'write'; ops: Op[] }
  | { t: 'pause' }
  | { t: 'resume' }
  | { t: 'restart' }
  | { t: 'cut'; ms: number }
  | { t: 'sleep'; ms: number }
  | { t: 'settle' };

const sizeArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 300 }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: MIB }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(0, 1, 4095, 4096, 4097, 65536, 262143, 262144, 262145, MIB - 1, MIB),
  },
);
const opArb: fc.Arbitrary<Op> = fc.record({
  key: fc.integer({ min: 0, max: KEYS - 1 }),
  del: fc.boolean(),
  size: sizeArb,
  fill: fc.integer({ min: 0, max: 0xffff }),
});
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      t: fc.constant('write' as const),
      ops: fc.array(opArb, { minLength: 1, maxLength: 6 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ t: 'pause' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'resume' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'restart' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant('cut' as const), ms: fc.integer({ min: 5, max: 150 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant('sleep' as const), ms: fc.integer({ min: 0, max: 60 }) }),
  },
  { weight: 1, arbitrary: fc.constant({ t: 'settle' as const }) },
);
const runArb = fc.record({
  ring: fc.boolean(),
  // Both stores in one commit log, as on one worker: a caught-up replica is fed in the leader's batches.
  shared: fc.boolean(),
  // Small memtables flush and compact often; big ones keep values of every size side by side in one.
  memtableBytes: fc.constantFrom(48 * 1024, 8 * MIB),
  steps: fc.array(stepArb, { minLength: 1, maxLength: MAX_STEPS, size: FULL ? 'max' : 'medium' }),
});

/** valueOf builds a put's value: a pattern that differs by position and by `fill`, so overlaps show. */
function valueOf(op: Op): Buffer {
  const v = Buffer.allocUnsafe(op.size);
  let x = (op.fill * 2654435761) >>> 0 || 1;
  for (let i = 0; i < op.size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    v[i] = x & 0xff;
  }
  return v;
}

/** digest hashes a sorted key → value content. */
function digest(entries: Iterable<[string, Uint8Array]>): string {
  const h = createHash('sha256');
  for (const [k, v] of entries) {
    h.update(`${k}\u0000${v.length}\u0000`);
    h.update(v);
  }
  return h.digest('hex');
}

function storeEntries(store: LsmStore): [string, Uint8Array][] {
  const out: [string, Uint8Array][] = [];
  let after: Uint8Array | undefined;
  for (;;) {
    const page = store.scan(new Uint8Array(0), after, 1000);
    if (page.length === 0) return out;
    for (const e of page) out.push([Buffer.from(e.key).toString('latin1'), Buffer.from(e.value)]);
    after = page[page.length - 1]!.key;
  }
}

/** History is the leader's history by seq: what each seq wrote (null = delete). */
class History {
  private readonly bySeq = new Map<number, { key: string; value: Buffer | null }>();

  record(seq: number, key: string, value: Buffer | null): void {
    this.bySeq.set(seq, { key, value });
  }

  /** at returns the leader's content at `seq`, sorted by key. */
  at(seq: number): [string, Buffer][] {
    const state = new Map<string, Buffer>();
    for (let s = 1; s <= seq; s++) {
      const w = this.bySeq.get(s);
      if (w === undefined) throw new Error(`the history has no seq ${s} (asked for the state at ${seq})`);
      if (w.value === null) state.delete(w.key);
      else state.set(w.key, w.value);
    }
    return [...state].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

async function run(input: {
  ring: boolean;
  shared: boolean;
  memtableBytes: number;
  steps: Step[];
}): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'distkv-replica-model-'));
  const history = new History();
  const seen: { ack: number; digest: string }[] = [];
  let lastChecked = -1;
  const pair = await ReplicaPair.open(dir, {
    memtableBytes: input.memtableBytes,
    maxRuns: 2,
    walSegmentBytes: 64 * 1024,
    pullMaxBytes: 256 * 1024,
    pullWaitMs: 20,
    ...(input.ring ? { ringBytes: 96 * 1024 } : {}),
    sharedLog: input.shared,
    onPublish: (p, replica) => {
      if ((p.state !== 'streaming' && p.state !== 'catching-up') || p.ack === lastChecked) return;
      lastChecked = p.ack;
      seen.push({ ack: p.ack, digest: digest(storeEntries(replica)) });
    },
  });
  let paused = false;
  try {
    for (const step of input.steps) {
      switch (step.t) {
        case 'write':
          await Promise.all(
            step.ops.map(async (op) => {
              const key = `k${op.key}`;
              const value = op.del ? null : valueOf(op);
              const { seq } =
                value === null
                  ? await pair.leader.delete(Buffer.from(key))
                  : await pair.leader.put(Buffer.from(key), value);
              history.record(seq, key, value);
            }),
          );
          break;
        case 'pause':
          if (!paused) await pair.pause();
          paused = true;
          break;
        case 'resume':
          if (paused) pair.resume();
          paused = false;
          break;
        case 'restart':
          if (paused) pair.resume();
          paused = false;
          await pair.restartReplica();
          break;
        case 'cut':
          pair.cut(true);
          await new Promise((r) => setTimeout(r, step.ms));
          pair.cut(false);
          break;
        case 'sleep':
          await new Promise((r) => setTimeout(r, step.ms));
          break;
        case 'settle':
          if (paused) pair.resume();
          paused = false;
          await pair.caughtUp();
          break;
      }
    }
    if (paused) pair.resume();
    await pair.caughtUp();
    const leaderSeq = pair.leader.lastSeq();
    const expected = history.at(leaderSeq);
    assert.deepEqual(storeEntries(pair.leader), expected, 'the leader holds its own history');
    assert.deepEqual(storeEntries(pair.replica), expected, 'the caught-up replica equals its leader');
    for (const s of seen)
      assert.equal(
        s.digest,
        digest(history.at(s.ack)),
        `the replica at ack ${s.ack} is not the leader at seq ${s.ack}`,
      );
  } finally {
    await pair.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('leader→replica model', () => {
  it(`the replica at each ack it reports equals the leader at that seq (${RUNS} runs of up to ${MAX_STEPS} steps, seed ${SEED})`, async () => {
    await fc.assert(fc.asyncProperty(runArb, run), { seed: SEED, numRuns: RUNS });
  });
});
