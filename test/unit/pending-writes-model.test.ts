/**
 * The worker's grow-only tables of writes in flight against models (CONVENTIONS habit 10):
 * PendingWrites (pending-writes.ts) against a Map of (store, key) to the newest write and its count
 * of writes in flight, Unsettled (unsettled.ts) against a Map of slot to (store, write), and the
 * slot numbers both take from (slot-pool.ts) against a Set of the slots taken. Seeded
 * fast-check runs of notes, settles in any order and lookups, over a few stores and keys of 0..80
 * bytes from a small alphabet (overwrites, keys longer than an entry's first key buffer), starting
 * from the smallest capacity so that the tables grow and reuse freed entries, once with the real
 * hash and once with one that sends every key of a length to one slot (long probe runs, so that
 * deletion must shift entries back correctly). After every step every key's answers must equal the
 * model's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { WriteResult } from '../../src/storage/store.js';
import { type KeyHash, PendingWrites, storeKeyHash } from '../../src/worker/pending-writes.js';
import { SlotPool } from '../../src/worker/slot-pool.js';
import { Unsettled } from '../../src/worker/unsettled.js';

const STORES = 3;
const NOW = Date.now();

/** collidingHash puts every key of one length in one store on the same home slot. */
const collidingHash: KeyHash = (store, key) => store * 7 + (key.length % 5);

/** Op is one step: note a write, settle the n-th outstanding one, or look a key up. */
type Op =
  | { kind: 'note'; store: number; key: string; value: string | null; expiry: number }
  | { kind: 'settle'; nth: number }
  | { kind: 'get'; store: number; key: string };

const keyArb = fc.oneof(
  fc.stringMatching(/^[ab]{0,4}$/),
  fc.string({ unit: fc.constantFrom('a', 'b', '\u00ff'), minLength: 30, maxLength: 80 }),
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('note' as const),
      store: fc.nat(STORES - 1),
      key: keyArb,
      value: fc.option(fc.string({ maxLength: 4 }), { freq: 4 }),
      // 0 = no TTL; one in the past reads as a delete, one in the future as the value.
      expiry: fc.constantFrom(0, 0, NOW - 1000, NOW + 60_000),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('settle' as const), nth: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('get' as const), store: fc.nat(STORES - 1), key: keyArb }),
  },
);

interface ModelEntry {
  value: string | null;
  expiry: number;
  inFlight: number;
  settled: Promise<WriteResult>;
}

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

/** check compares every key the model has ever seen (and `extra`) against the table. */
function check(table: PendingWrites, model: Map<string, ModelEntry>, seen: Set<string>): void {
  let live = 0;
  for (const id of seen) {
    const store = Number(id.slice(0, id.indexOf(':')));
    const key = bytes(id.slice(id.indexOf(':') + 1));
    const want = model.get(id);
    if (want !== undefined) live++;
    const expired = want !== undefined && want.expiry > 0 && want.expiry <= Date.now();
    const wantValue =
      want === undefined ? undefined : expired || want.value === null ? null : bytes(want.value);
    assert.deepEqual(table.get(store, key), wantValue, `get ${id}`);
    assert.equal(table.settledOf(store, key), want?.settled, `settledOf ${id}`);
    const e = table.find(store, key);
    assert.equal(e >= 0, want !== undefined, `find ${id}`);
    if (want !== undefined) assert.equal(table.expiresAt(e), want.expiry, `expiresAt ${id}`);
  }
  assert.equal(table.size, live, 'size');
}

function runPending(ops: Op[], hash: KeyHash): void {
  const table = new PendingWrites(2, hash);
  const model = new Map<string, ModelEntry>();
  const outstanding: { id: string; handle: number }[] = [];
  const seen = new Set<string>();
  for (const op of ops) {
    if (op.kind === 'note') {
      const id = `${op.store}:${op.key}`;
      seen.add(id);
      const settled = Promise.resolve({ seq: outstanding.length + 1 });
      const value = op.value === null ? null : bytes(op.value);
      const handle = table.note(op.store, bytes(op.key), value, settled, op.expiry);
      const m = model.get(id);
      if (m === undefined) model.set(id, { value: op.value, expiry: op.expiry, inFlight: 1, settled });
      else {
        assert.equal(handle, outstanding.find((o) => o.id === id)?.handle, `one entry per key ${id}`);
        Object.assign(m, { value: op.value, expiry: op.expiry, settled, inFlight: m.inFlight + 1 });
      }
      outstanding.push({ id, handle });
    } else if (op.kind === 'settle') {
      if (outstanding.length === 0) continue;
      const [o] = outstanding.splice(op.nth % outstanding.length, 1);
      table.settle(o!.handle);
      const m = model.get(o!.id)!;
      if (--m.inFlight === 0) model.delete(o!.id);
    } else seen.add(`${op.store}:${op.key}`);
    check(table, model, seen);
  }
}

describe('PendingWrites against a Map model', () => {
  it('answers as the model through notes, out-of-order settles and growth (seeded property)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 300 }), (ops) => {
        runPending(ops, storeKeyHash);
      }),
      { seed: 1828, numRuns: 200 },
    );
  });

  it('answers as the model when keys collide into long probe runs (seeded property)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 300 }), (ops) => {
        runPending(ops, collidingHash);
      }),
      { seed: 2818, numRuns: 200 },
    );
  });

  it('keeps no value or promise of a settled key (the table does not hold request batches alive)', () => {
    const table = new PendingWrites(2);
    const handles = Array.from({ length: 50 }, (_, i) =>
      table.note(i % STORES, bytes(`k${i}`), Buffer.alloc(8), Promise.resolve({ seq: i })),
    );
    for (const h of handles) table.settle(h);
    assert.equal(table.size, 0);
    for (const h of handles) {
      assert.equal(table.valueAt(h), null);
      assert.equal(table.settledAt(h), undefined);
    }
  });
});

describe('Unsettled against a Map model', () => {
  it('returns each store exactly its writes not yet settled (seeded property)', () => {
    type UOp = { kind: 'add'; store: number } | { kind: 'delete'; nth: number };
    const uop: fc.Arbitrary<UOp> = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), store: fc.nat(STORES - 1) }),
      fc.record({ kind: fc.constant('delete' as const), nth: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(uop, { maxLength: 300 }), (ops) => {
        const table = new Unsettled(1);
        const model = new Map<number, { store: number; write: Promise<unknown> }>();
        for (const op of ops) {
          if (op.kind === 'add') {
            const write = Promise.resolve(op.store);
            const slot = table.add(op.store, write);
            assert.ok(!model.has(slot), `slot ${slot} handed out twice`);
            model.set(slot, { store: op.store, write });
          } else if (model.size > 0) {
            const slot = [...model.keys()][op.nth % model.size]!;
            table.delete(slot);
            model.delete(slot);
          }
          for (let s = 0; s < STORES; s++) {
            const want = [...model.values()].filter((m) => m.store === s).map((m) => m.write);
            const got = table.of(s);
            assert.equal(got.length, want.length, `store ${s}`);
            for (const w of want) assert.ok(got.includes(w), `store ${s} misses a write`);
          }
        }
      }),
      { seed: 2828, numRuns: 200 },
    );
  });
});

describe('SlotPool against a Set model', () => {
  it("reuses released slots, never hands one out twice, and its owner's arrays always hold every slot taken (seeded property)", () => {
    const takeOrRelease = fc.oneof(fc.constant('take' as const), fc.nat());
    fc.assert(
      fc.property(fc.nat(4), fc.array(takeOrRelease, { maxLength: 300 }), (capacity, ops) => {
        let columns = 0;
        const added: number[] = [];
        const pool = new SlotPool(capacity, {
          grow: (n) => {
            assert.ok(n > columns, `grow to ${n} from ${columns}`);
            columns = n;
          },
          added: (slot) => added.push(slot),
        });
        columns = pool.capacity;
        const taken = new Set<number>();
        for (const op of ops) {
          if (op === 'take') {
            const before = pool.used;
            const slot = pool.take();
            assert.ok(!taken.has(slot), `slot ${slot} handed out twice`);
            if (taken.size < before) assert.ok(slot < before, 'a released slot is taken before a new one');
            assert.ok(slot < columns, `slot ${slot} beyond the owner's ${columns}`);
            taken.add(slot);
          } else if (taken.size > 0) {
            const slot = [...taken][op % taken.size]!;
            pool.release(slot);
            taken.delete(slot);
          }
          assert.deepEqual(
            added,
            Array.from({ length: pool.used }, (_, i) => i),
            'new slots are announced once each, in order',
          );
          assert.ok(pool.used <= pool.capacity && pool.capacity === columns, 'capacity');
        }
      }),
      { seed: 3828, numRuns: 200 },
    );
  });
});
