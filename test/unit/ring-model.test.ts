/**
 * Model test of a ring replica (src/replication/ring-source.ts): whatever the ring's size, the
 * batches' sizes (some larger than the ring), when the replica pulls and how much it asks for,
 * how far the leader's published seq lags its log, producers restarting on the ring (the leader's
 * worker restarting, its history intact) and applies that fail (the replica asks again from its
 * ack), the records the replica applies are exactly 1..N, in order, each once; and it is never told
 * that it is ahead of its leader, that it forked, or that its records are gone.
 *
 * The leader here answers the fallback's pulls as pull-answer.ts does: its restart check
 * (LeaderState.restartFork), REPLICA_AHEAD ('diverged') for an ack above its log's last seq, then
 * whole batches from the ack on. Seeded: a failure names its seed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeaderState } from '../../src/replication/leader-state.js';
import { ringBytesFor } from '../../src/replication/ring-format.js';
import { RingProducer } from '../../src/replication/ring.js';
import { RingSource } from '../../src/replication/ring-source.js';
import type { PullResult, ReplicationSource, SnapshotStream } from '../../src/replication/source.js';
import { encodeRecord, recordSize, TYPE_PUT } from '../../src/storage/wal-format.js';
import { RacingConsumer, seqsIn } from '../helpers/ring-batches.js';
import { seededRandom } from '../helpers/random.js';

const REPLICA = 'ring-replica';

function record(seq: number, valueBytes: number): Buffer {
  const b = Buffer.alloc(recordSize(8, valueBytes));
  encodeRecord(
    b,
    0,
    TYPE_PUT,
    seq,
    Buffer.from(`k${String(seq % 1e7).padStart(7, '0')}`),
    Buffer.alloc(valueBytes, seq % 251),
  );
  return b;
}

/** ModelLeader is the leader's log (whole batches) and its answers to the fallback's pulls. */
class ModelLeader implements ReplicationSource {
  readonly describe = 'model leader log';
  readonly batches: { first: number; last: number; records: Buffer }[] = [];
  /** refusals are the answers that would send a healthy replica to a resync. */
  readonly refusals: string[] = [];
  state = new LeaderState(() => this.lastSeq());

  lastSeq(): number {
    return this.batches[this.batches.length - 1]?.last ?? 0;
  }

  pull(after: number, maxBytes: number): Promise<PullResult> {
    const fork = this.state.restartFork(REPLICA, after);
    if (fork !== undefined) {
      this.refusals.push(`fork ${fork} at ${after}`);
      return Promise.resolve({ fork });
    }
    if (after > this.lastSeq()) {
      this.refusals.push(`REPLICA_AHEAD at ${after} (log at ${this.lastSeq()})`);
      return Promise.resolve('diverged');
    }
    this.state.ack(REPLICA, after);
    const parts: Buffer[] = [];
    let size = 0;
    for (const b of this.batches) {
      if (b.last <= after) continue;
      if (size > 0 && size >= maxBytes) break;
      let offset = 0;
      for (let s = b.first; s <= after; s++) offset += b.records.readUInt32LE(offset + 4) + 8;
      const part = b.records.subarray(offset);
      parts.push(part);
      size += part.length;
    }
    return Promise.resolve({ records: Buffer.concat(parts, size), leaderSeq: this.lastSeq() });
  }

  snapshot(): Promise<SnapshotStream> {
    this.refusals.push('asked for a snapshot');
    return Promise.reject(new Error('no snapshot in the model'));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

async function runSeed(seed: number): Promise<{ ring: number; fallback: number; drops: number }> {
  const rnd = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const capacity = pick([4096, 8192, 32768]);
  const sab = new SharedArrayBuffer(ringBytesFor(capacity));
  const leader = new ModelLeader();
  let producer = new RingProducer(sab);
  let drops = 0;
  // published: the leader's last seq as its worker publishes it, some batches behind its log.
  let published = 0;
  const consumer = new RacingConsumer(sab);
  const source = new RingSource(consumer, leader, 'model ring', () => published);
  const unpublished: number[] = [];
  const maxLag = pick([0, 1, 3, 10]);
  const bigValue = pick([200, 600, 2000]);
  let ack = 0;
  const applied: number[] = [];
  const steps = 300 + Math.floor(rnd() * 300);
  const pull = async (): Promise<void> => {
    const maxBytes = pick([64, 256, 4096, 1 << 20]);
    const r = await source.pull(ack, maxBytes, 0);
    if (typeof r === 'string' || 'fork' in r) return; // counted as the leader's refusals
    const seqs = seqsIn(r.records);
    if (seqs.length === 0) return;
    assert.deepEqual(
      seqs,
      Array.from({ length: seqs.length }, (_, i) => ack + 1 + i),
      `seed ${seed}: after ${ack} the replica got ${seqs[0]}..${seqs[seqs.length - 1]}`,
    );
    // An apply that fails before the replica's log takes the batch: it asks again from its ack.
    if (rnd() < 0.05) return;
    applied.push(...seqs);
    ack = seqs[seqs.length - 1]!;
  };
  const logBatch = (): void => {
    // The leader logs a batch; its listener puts it in the ring (or drops it).
    const first = leader.lastSeq() + 1;
    const n = 1 + Math.floor(rnd() * 6);
    const records = Buffer.concat(
      Array.from({ length: n }, (_, i) => record(first + i, rnd() < 0.3 ? bigValue : 8)),
    );
    leader.batches.push({ first, last: first + n - 1, records });
    if (!producer.publish(records, first, first + n - 1)) drops++;
    unpublished.push(first + n - 1);
  };
  const restart = (): void => {
    // The leader's worker restarts with its log intact (publishing its last seq at open): a new
    // leader state and producer.
    published = leader.lastSeq();
    unpublished.length = 0;
    leader.state = new LeaderState(() => leader.lastSeq());
    producer = new RingProducer(sab);
  };
  for (let step = 0; step < steps; step++) {
    const x = rnd();
    if (x < 0.4) logBatch();
    else if (x < 0.55 || unpublished.length > maxLag) {
      // The leader's worker publishes its last seq (a write resolved).
      if (unpublished.length > 0) published = unpublished.shift()!;
    } else if (x < 0.56) restart();
    else if (x < 0.57)
      // The same, in the middle of the replica's next pull, and the leader writes at once.
      consumer.beforeTake = () => {
        restart();
        logBatch();
      };
    else await pull();
  }
  // The leader stops writing; its worker publishes; the replica catches up.
  for (let i = 0; i < 10_000 && ack < leader.lastSeq() && leader.refusals.length === 0; i++) {
    // (A restart still pending may log one more batch in this pull: its write resolves by the next.)
    published = leader.lastSeq();
    await pull();
  }
  assert.deepEqual(
    leader.refusals.slice(0, 3),
    [],
    `seed ${seed}: a healthy replica was refused (${leader.refusals.length} times)`,
  );
  assert.equal(ack, leader.lastSeq(), `seed ${seed}: the replica did not catch up`);
  assert.deepEqual(
    applied,
    Array.from({ length: leader.lastSeq() }, (_, i) => i + 1),
    `seed ${seed}: records skipped, repeated or out of order`,
  );
  return { ring: source.counters.ringBatches, fallback: source.counters.fallbackPulls, drops };
}

describe('a ring replica (model)', () => {
  it('applies exactly the records 1..N in order, each once, and is never refused, whatever the ring, laps, restarts and lag', async () => {
    const totals = { ring: 0, fallback: 0, drops: 0 };
    for (let seed = 1; seed <= 400; seed++) {
      const t = await runSeed(seed);
      totals.ring += t.ring;
      totals.fallback += t.fallback;
      totals.drops += t.drops;
    }
    assert.ok(totals.ring > 0 && totals.fallback > 0 && totals.drops > 0, JSON.stringify(totals));
  });
});
