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
 * Puts carry no expiry, one already past (invisible at once) or one far ahead (a TTL record), and
 * deletes are plain or expiries (the record the leader logs when a TTL runs out).
 * On an in-memory disk (FaultyVfs) two faults join in: a failed fdatasync under a write (the
 * batch is refused, DISK_FULL, and must never reappear) and a power loss (torn or clean) with
 * writes in flight, after which both stores are recovered from the log as a worker recovers them.
 *
 * The model is the leader's history by seq. Every time the follower publishes an ack A while it
 * follows, the replica's whole content (values, versions, expiries) is hashed; afterwards each
 * hash must equal the hash of the history replayed through A. After a power loss the leader must
 * hold every write it acknowledged and otherwise only a prefix of the writes in flight, the
 * replica at least what its last ack covered and exactly its leader's history at its seq.
 * At the end the replica must equal the leader and the leader the model.
 * A failure prints fast-check's seed, path and shrunk step list; DISTKV_SEED replays a seed, and
 * DISTKV_CASE='<the printed counterexample>' replays that one run alone. Shrinking a run of this
 * size can take hours: DISTKV_SHRINK=0 reports the first failing run as it is.
 * The run in `npm test` is short and seeded; DISTKV_ROBUSTNESS=full runs many more, longer ones.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RETRY_MS } from '../../src/storage/commit-log-failure.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { seededRandom } from '../helpers/random.js';
import { ReplicaPair } from '../helpers/replica-pair.js';

const FULL = process.env.DISTKV_ROBUSTNESS === 'full';
const RUNS = FULL ? 150 : 20;
const MAX_STEPS = FULL ? 60 : 30;
const SEED =
  process.env.DISTKV_SEED !== undefined && process.env.DISTKV_SEED !== ''
    ? Number(process.env.DISTKV_SEED)
    : 12;
/** SHRINK is false with DISTKV_SHRINK=0: a failure is reported unshrunk, at once. */
const SHRINK = process.env.DISTKV_SHRINK !== '0';
const KEYS = 8;
const MIB = 1024 * 1024;

/** FAR is an expiry no run reaches; PAST one that has already passed (the put is invisible at once). */
const FAR = Date.now() + 24 * 3_600_000;
const PAST = 1;

/** Op is one write of a step: put `size` bytes made from `fill` (expiring at `ttl`), or delete (an expiry with `ttl`). */
interface Op {
  key: number;
  del: boolean;
  size: number;
  fill: number;
  /** ttl: 0 none; a put's expiry (PAST or FAR); for a delete, non-zero logs it as an expiry. */
  ttl: number;
}

/** Step is one step of a run. */
type Step =
  | { t: 'write'; ops: Op[] }
  | { t: 'pause' }
  | { t: 'resume' }
  | { t: 'restart' }
  | { t: 'cut'; ms: number }
  | { t: 'sleep'; ms: number }
  | { t: 'settle' }
  | { t: 'fail'; ops: Op[] }
  | { t: 'crash'; ops: Op[]; turns: number; tear: boolean; seed: number };

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
  ttl: fc.constantFrom(0, 0, 0, PAST, FAR),
});
const opsArb = fc.array(opArb, { minLength: 1, maxLength: 6 });
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      t: fc.constant('write' as const),
      ops: opsArb,
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
  // Only on the in-memory disk (a real one cannot lose power); elsewhere they write as `write` does.
  { weight: 1, arbitrary: fc.record({ t: fc.constant('fail' as const), ops: opsArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('crash' as const),
      ops: opsArb,
      turns: fc.integer({ min: 0, max: 4 }),
      tear: fc.boolean(),
      seed: fc.integer({ min: 0, max: 0x7fffffff }),
    }),
  },
);
const runArb = fc.record({
  ring: fc.boolean(),
  // Both stores in one commit log, as on one worker: a caught-up replica is fed in the leader's batches.
  shared: fc.boolean(),
  // On an in-memory disk that can fail a sync or lose power (FaultyVfs).
  faulty: fc.boolean(),
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

/** Entry is a live key's value and version (seq and expiry), as the store returns it. */
interface Entry {
  value: Uint8Array;
  seq: number;
  expiresAtMs: number;
}

/** digest hashes a sorted key → entry content: values, versions and expiries. */
function digest(entries: Iterable<[string, Entry]>): string {
  const h = createHash('sha256');
  for (const [k, e] of entries) {
    h.update(`${k}\u0000${e.seq}\u0000${e.expiresAtMs}\u0000${e.value.length}\u0000`);
    h.update(e.value);
  }
  return h.digest('hex');
}

function storeEntries(store: LsmStore): [string, Entry][] {
  const out: [string, Entry][] = [];
  let after: Uint8Array | undefined;
  for (;;) {
    const page = store.scan(new Uint8Array(0), after, 1000);
    if (page.length === 0) return out;
    for (const e of page)
      out.push([
        Buffer.from(e.key).toString('latin1'),
        { value: Buffer.from(e.value), seq: e.seq, expiresAtMs: e.expiresAtMs },
      ]);
    after = page[page.length - 1]!.key;
  }
}

/** History is the leader's history by seq: what each seq wrote (value null = delete or expiry). */
class History {
  private readonly bySeq = new Map<number, { key: string; value: Buffer | null; expiresAtMs: number }>();

  record(seq: number, op: Op): void {
    this.bySeq.set(seq, {
      key: `k${op.key}`,
      value: op.del ? null : valueOf(op),
      expiresAtMs: op.del ? 0 : op.ttl,
    });
  }

  /** at returns the leader's live content at `seq`, sorted by key. */
  at(seq: number): [string, Entry][] {
    const state = new Map<string, Entry>();
    for (let s = 1; s <= seq; s++) {
      const w = this.bySeq.get(s);
      if (w === undefined) throw new Error(`the history has no seq ${s} (asked for the state at ${seq})`);
      if (w.value === null || (w.expiresAtMs !== 0 && w.expiresAtMs <= Date.now())) state.delete(w.key);
      else state.set(w.key, { value: w.value, seq: s, expiresAtMs: w.expiresAtMs });
    }
    return [...state].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

/**
 * sleepByClock waits until Date.now() has moved on `ms`. The log's refusal after a failure ends by
 * Date.now() (commit-log-failure.ts), while a timer runs on the monotonic clock in whole ms: about
 * one setTimeout(5) in a hundred fires before Date.now() moved 5 ms. So a plain
 * setTimeout(RETRY_MS) could end just before the refusal did, and a crash step's writes issued
 * across its end (building 1 MiB values takes ms) were refused up to some op and taken after it,
 * their seqs no longer first + i ("the writes of one turn take consecutive seqs", seed 12, once,
 * in a loaded run). The code never promised a refusal ends at a turn boundary; the test assumed it.
 */
async function sleepByClock(ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) await new Promise((r) => setTimeout(r, until - Date.now()));
}

/** write issues one op on `store`. */
function write(store: LsmStore, op: Op): Promise<{ seq: number }> {
  const key = Buffer.from(`k${op.key}`);
  if (op.del) return op.ttl === 0 ? store.delete(key) : store.expire(key);
  return store.put(key, valueOf(op), op.ttl);
}

/** writeAll issues `ops` in one turn and records each acknowledged one; a refused one (DISK_FULL, DISK_IO_ERROR) must leave no trace. */
async function writeAll(
  store: LsmStore,
  ops: readonly Op[],
  history: History,
  faulty: boolean,
): Promise<void> {
  const results = await Promise.allSettled(ops.map((op) => write(store, op)));
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') history.record(r.value.seq, ops[i]!);
    // A failed sync of a flush's run refuses the writes stalled behind it as DISK_IO_ERROR (session 56).
    else if (
      !faulty ||
      !['DISK_FULL', 'DISK_IO_ERROR'].includes(String((r.reason as { code?: string }).code))
    )
      throw r.reason;
  });
}

async function run(input: {
  ring: boolean;
  shared: boolean;
  faulty: boolean;
  memtableBytes: number;
  steps: Step[];
}): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'distkv-replica-model-'));
  let disk = input.faulty ? new FaultyVfs() : undefined;
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
    ...(disk === undefined ? {} : { vfs: disk }),
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
          await writeAll(pair.leader, step.ops, history, disk !== undefined);
          break;
        case 'fail': {
          disk?.failSyncs(1);
          const before = pair.leader.lastSeq();
          await writeAll(pair.leader, step.ops, history, disk !== undefined);
          // Refused writes refuse the next ones for RETRY_MS from the failure; let it pass.
          if (disk !== undefined && pair.leader.lastSeq() < before + step.ops.length)
            await sleepByClock(RETRY_MS);
          break;
        }
        case 'crash':
          if (disk === undefined) await writeAll(pair.leader, step.ops, history, false);
          else {
            const ack = seen[seen.length - 1]?.ack ?? 0;
            disk = await powerLoss(pair, disk, step, history, ack);
            if (!paused) pair.resume();
          }
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

/**
 * powerLoss issues `step.ops` in one turn, cuts the power `step.turns` turns later (with or
 * without a torn tail), recovers both stores from the disk (the follower stays stopped), checks
 * them against the history and records the writes in flight the leader kept; returns the disk.
 * The writes of one turn take consecutive seqs from the leader's next one (every earlier write
 * was answered), so the leader must hold a prefix of them beyond the acknowledged ones.
 */
async function powerLoss(
  pair: ReplicaPair,
  disk: FaultyVfs,
  step: { ops: Op[]; turns: number; tear: boolean; seed: number },
  history: History,
  replicaAck: number,
): Promise<FaultyVfs> {
  const first = pair.leader.lastSeq() + 1;
  let crashed = false;
  const acked: number[] = [];
  const writes = step.ops.map((op, i) =>
    write(pair.leader, op).then(
      ({ seq }) => {
        if (crashed) return;
        assert.equal(seq, first + i, 'the writes of one turn take consecutive seqs');
        acked.push(seq);
      },
      () => undefined,
    ),
  );
  for (let i = 0; i < step.turns; i++) await new Promise((r) => setImmediate(r));
  crashed = true;
  // A replica that was resyncing had dropped (or was about to drop) what its last ack covered.
  const resyncing = pair.state === 'resyncing';
  const rebooted = disk.crash(step.tear, seededRandom(step.seed));
  await pair.reboot(rebooted, false);
  await Promise.all(writes);
  const leaderSeq = pair.leader.lastSeq();
  const what = `after a power loss with ${step.ops.length} writes from seq ${first} in flight`;
  assert.ok(leaderSeq >= Math.max(first - 1, ...acked), `${what}: the leader lost acknowledged writes`);
  assert.ok(leaderSeq < first + step.ops.length, `${what}: the leader holds seq ${leaderSeq}, never written`);
  for (let seq = first; seq <= leaderSeq; seq++) history.record(seq, step.ops[seq - first]!);
  assert.deepEqual(storeEntries(pair.leader), history.at(leaderSeq), `${what}: the leader`);
  // A replica in the middle of a resync is not exact at its seq (it resyncs again or replays to the marker's seq).
  if (pair.resyncing()) return rebooted;
  const replicaSeq = pair.replica.lastSeq();
  if (!resyncing)
    assert.ok(
      replicaSeq >= replicaAck,
      `${what}: the replica at ${replicaSeq} after acknowledging ${replicaAck}`,
    );
  assert.ok(replicaSeq <= leaderSeq, `${what}: the replica at ${replicaSeq} is ahead of its leader`);
  assert.deepEqual(
    storeEntries(pair.replica),
    history.at(replicaSeq),
    `${what}: the replica at its seq ${replicaSeq} (leader at ${leaderSeq})`,
  );
  return rebooted;
}

describe('leader→replica model', () => {
  if (process.env.DISTKV_CASE !== undefined)
    it('replays DISTKV_CASE', async () => {
      await run((JSON.parse(process.env.DISTKV_CASE ?? '') as Parameters<typeof run>[0][])[0]!);
    });
  it(`the replica at each ack it reports equals the leader at that seq (${RUNS} runs of up to ${MAX_STEPS} steps, seed ${SEED})`, async () => {
    await fc.assert(fc.asyncProperty(runArb, run), { seed: SEED, numRuns: RUNS, endOnFailure: !SHRINK });
  });
});
