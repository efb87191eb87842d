/**
 * StoreWrites' plain writes by ticket (write-tickets.ts) against a model, seeded: random plain
 * writes and deletes, read-modify-write writes through `issue` (a promise), writes refused at once,
 * group commits answered in seq order (sinks told at once, promises heard a microtask later, as
 * StoreLog's hand-over does) or failed whole, reads behind the writes in flight, and retries
 * that wait for a key's writes as a conditional write does. Every write's reply carries its own
 * seq or its refusal, every read behind writes in flight hears the outcome of the key's newest
 * write when it was issued (never that of a later user of a ticket, never nothing), and every
 * retry runs once its key's writes settled, without looping while they are in flight.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { DistkvError } from '../../src/errors.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import type { WriteResult, WriteSink } from '../../src/storage/store.js';
import { ST_DONE, ST_ERROR } from '../../src/worker/op-format.js';
import { tempDir } from '../helpers/temp-dir.js';
import { storeWritesOver } from '../helpers/worker-host.js';

const REFUSED = 'refused';
/** MAX_RETRIES stops a retry that loops (the check below then fails instead of the test hanging). */
const MAX_RETRIES = 1000;

/** Op is a write as the model knows it: its outcome once answered (a seq, or REFUSED). */
interface Op {
  id: number;
  outcome: number | typeof REFUSED | undefined;
}

/** Held is a write the store took: answered through a sink (plain) or a promise (issue). */
type Held = { seq: number; op: Op } & (
  { sink: WriteSink; token: number } | { resolve: (r: WriteResult) => void; reject: (e: Error) => void }
);

/** ModelStore gives seqs in order and answers the held writes when the test says so. */
class ModelStore extends MemoryStore {
  held: Held[] = [];
  next = 1;
  refuseNext = false;
  /** op is the model's op of the write being issued. */
  op: Op = { id: 0, outcome: undefined };

  writeTo(_key: Uint8Array, _value: Uint8Array | null, _exp: number, sink: WriteSink, token: number): void {
    if (this.refuseNext) {
      this.refuseNext = false;
      this.op.outcome = REFUSED;
      sink.refused(token, new DistkvError('UNAVAILABLE', 'refused at once'));
    } else this.held.push({ seq: this.next++, op: this.op, sink, token });
  }

  override put(): Promise<WriteResult> {
    if (this.refuseNext) {
      // As StoreLog.append refuses: a promise already rejected.
      this.refuseNext = false;
      this.op.outcome = REFUSED;
      return Promise.reject(new DistkvError('UNAVAILABLE', 'refused at once'));
    }
    return new Promise((resolve, reject) =>
      this.held.push({ seq: this.next++, op: this.op, resolve, reject }),
    );
  }

  override delete(): Promise<WriteResult> {
    return this.put();
  }

  /** answer hands over the `n` oldest held writes, in seq order. */
  answer(n: number): void {
    for (const h of this.held.splice(0, n)) {
      h.op.outcome = h.seq;
      if ('sink' in h) h.sink.written(h.token, h.seq);
      else h.resolve({ seq: h.seq });
    }
  }

  /** fail refuses every held write, in seq order (a failed group commit). */
  fail(): void {
    for (const h of this.held.splice(0)) {
      h.op.outcome = REFUSED;
      const err = new DistkvError('DISK_FULL', 'batch failed');
      if ('sink' in h) h.sink.refused(h.token, err);
      else h.reject(err);
    }
  }
}

type Step =
  | { t: 'write' | 'issue' | 'refuse' | 'refuse-issue' | 'read' | 'retry'; key: number; del: boolean }
  | { t: 'answer'; n: number }
  | { t: 'fail' }
  | { t: 'turn' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ t: fc.constant('write' as const), key: fc.nat(2), del: fc.boolean() }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant('issue' as const), key: fc.nat(2), del: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant('refuse' as const), key: fc.nat(2), del: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant('refuse-issue' as const), key: fc.nat(2), del: fc.boolean() }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('read' as const), key: fc.nat(2), del: fc.boolean() }) },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant('retry' as const), key: fc.nat(2), del: fc.boolean() }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ t: fc.constant('answer' as const), n: fc.integer({ min: 1, max: 4 }) }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('fail' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('turn' as const) }) },
);

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

async function run(steps: Step[]): Promise<void> {
  const store = new ModelStore();
  const replies = new Map<number, { status: number; seq: number }>();
  const writes = storeWritesOver(tempDir(after), [store], replies);
  try {
    const newest = new Map<number, Op>();
    const plain: Op[] = [];
    const reads: { expect: Op; heard: number | string | undefined }[] = [];
    // retries wait, as a conditional write, a transaction or the reaper does, until no write of
    // their key is in flight, looking again each time the key's newest write settles.
    const retries: { key: number; times: number; clear: boolean }[] = [];
    const retry = (r: (typeof retries)[number]): void => {
      const settled = writes.pending.settledOf(0, Buffer.of(r.key));
      if (settled === undefined) r.clear = true;
      else if (++r.times < MAX_RETRIES)
        settled.then(
          () => {
            retry(r);
          },
          () => {
            retry(r);
          },
        );
    };
    let id = 0;
    for (const s of steps) {
      // A group commit is answered from its I/O's callback: a turn of its own.
      if (s.t === 'answer') {
        await turn();
        store.answer(s.n);
      } else if (s.t === 'fail') {
        await turn();
        store.fail();
      } else if (s.t === 'turn') await turn();
      else if (s.t === 'retry') {
        const r = { key: s.key, times: 0, clear: false };
        retries.push(r);
        retry(r);
      } else if (s.t === 'read') {
        const p = writes.pending.settledOf(0, Buffer.of(s.key));
        const expect = newest.get(s.key);
        if (p === undefined) continue;
        assert.ok(expect, `a read of key ${s.key} waits although no write of it was issued`);
        const read: (typeof reads)[number] = { expect, heard: undefined };
        reads.push(read);
        p.then(
          ({ seq }) => (read.heard = seq),
          () => (read.heard = REFUSED),
        );
      } else {
        const op: Op = { id: ++id, outcome: undefined };
        store.op = op;
        newest.set(s.key, op);
        const value = s.del ? null : Buffer.of(id & 0xff);
        store.refuseNext = s.t === 'refuse' || s.t === 'refuse-issue';
        if (s.t === 'issue' || s.t === 'refuse-issue')
          void writes.issue(0, store, Buffer.of(s.key), value, 0).catch(() => undefined);
        else {
          writes.write(op.id, 0, store, Buffer.of(s.key), value, 0, 0, undefined);
          plain.push(op);
        }
      }
    }
    await turn();
    store.answer(store.held.length);
    for (let i = 0; i < 3; i++) await turn();
    for (const r of reads)
      assert.equal(r.heard, r.expect.outcome, `a read behind write ${r.expect.id} heard another outcome`);
    for (const op of plain) {
      const reply = replies.get(op.id);
      if (op.outcome === REFUSED) assert.equal(reply?.status, ST_ERROR, `write ${op.id} was refused`);
      else assert.deepEqual(reply, { status: ST_DONE, seq: op.outcome }, `write ${op.id}'s reply`);
    }
    for (const r of retries) {
      assert.ok(r.clear, `a retry on key ${r.key} still waits after every write settled`);
      assert.ok(r.times <= steps.length, `a retry on key ${r.key} looked ${r.times} times (a loop)`);
    }
    assert.equal(writes.pending.size, 0, 'nothing is left in flight');
  } finally {
    writes.close();
  }
}

describe('plain writes by ticket against a model', () => {
  it('runs a retry behind a key whose newest write was refused at once once the older write settled, without looping', async () => {
    await run([
      { t: 'write', key: 0, del: false },
      { t: 'refuse', key: 0, del: false },
      { t: 'retry', key: 0, del: false },
      { t: 'turn' },
      { t: 'refuse-issue', key: 0, del: false },
      { t: 'retry', key: 0, del: false },
      { t: 'turn' },
    ]);
  });

  it('answers each write with its own outcome and each read behind writes with its newest one (seeded property)', async () => {
    await fc.assert(fc.asyncProperty(fc.array(stepArb, { maxLength: 60 }), run), {
      seed: 3232,
      numRuns: 300,
    });
  });
});
