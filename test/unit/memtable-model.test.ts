/**
 * The memtable against a model (CONVENTIONS habit 10): seeded random writes (new keys, overwrites,
 * deletes, expiries, keys given as bytes, as strings or inside a larger batch), point reads and
 * ordered reads from random keys, interleaved so that the memtable moves between its states (no
 * order yet, a sorted array after an ordered read, a B+ tree once a key is added after one) and
 * grows its hash table and arena. After every step that reads, the answers must equal the model's:
 * a Map and a sort. DISTKV_SEED=N replays a run.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Memtable } from '../../src/storage/memtable.js';
import { seededRandom, testSeed } from '../helpers/random.js';

interface Model {
  seq: number;
  value: Buffer | null;
  expiresAtMs: number;
}

/** randomKey draws from a small alphabet (many shared prefixes, overwrites) or from any byte. */
function randomKey(rnd: () => number): string {
  const anyByte = rnd() < 0.2;
  const len = 1 + Math.floor(rnd() * (rnd() < 0.1 ? 80 : 6));
  let k = '';
  for (let i = 0; i < len; i++)
    k += String.fromCharCode(anyByte ? Math.floor(rnd() * 256) : 97 + Math.floor(rnd() * 4));
  return k;
}

function randomValue(rnd: () => number): Buffer {
  const len = rnd() < 0.05 ? 300_000 : Math.floor(rnd() * 200);
  const v = Buffer.allocUnsafe(len);
  for (let i = 0; i < Math.min(len, 64); i++) v[i] = Math.floor(rnd() * 256);
  return v.fill(len & 0xff, Math.min(len, 64));
}

function sortedModel(model: Map<string, Model>, from?: string): [string, Model][] {
  return [...model]
    .filter(([k]) => from === undefined || k >= from)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

describe('memtable against a model', () => {
  it('answers every point and ordered read as a Map and a sort would, through every state', () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    const m = new Memtable();
    const model = new Map<string, Model>();
    let seq = 0;
    const check = (label: string, got: unknown, want: unknown): void => {
      assert.deepEqual(got, want, `${label} (DISTKV_SEED=${seed}, seq ${seq})`);
    };
    // Phases: writes mixed with reads, then reads alone (so a sorted array serves several ordered reads).
    let writeShare = 0.6;
    for (let step = 0; step < 8000; step++) {
      if (step % 250 === 0) writeShare = rnd() < 0.4 ? 0 : 0.3 + rnd() * 0.5;
      const existing = (): string => [...model.keys()][Math.floor(rnd() * model.size)]!;
      const r = rnd();
      if (r < writeShare) {
        const key =
          rnd() < 0.5 || model.size === 0
            ? randomKey(rnd)
            : [...model.keys()][Math.floor(rnd() * model.size)]!;
        const value = rnd() < 0.15 ? null : randomValue(rnd);
        const expiresAtMs = value !== null && rnd() < 0.2 ? 1_000 + Math.floor(rnd() * 1e6) : 0;
        seq++;
        const bytes = Buffer.from(key, 'latin1');
        const how = rnd();
        if (how < 0.3) m.apply(key, seq, value, expiresAtMs);
        else if (how < 0.6) m.apply(bytes, seq, value, expiresAtMs);
        else {
          // As a replica applies a batch: key and value are ranges of one larger buffer.
          const pre = Buffer.from('xyz');
          const batch = Buffer.concat([pre, bytes, value ?? Buffer.alloc(0), pre]);
          const vStart = pre.length + bytes.length;
          m.applyFrom(
            batch,
            pre.length,
            vStart,
            seq,
            value === null ? null : batch,
            vStart,
            vStart + (value?.length ?? 0),
            expiresAtMs,
          );
        }
        model.set(key, { seq, value: value === null ? null : Buffer.from(value), expiresAtMs });
      } else if (r < writeShare + (1 - writeShare) * 0.6) {
        const key = rnd() < 0.7 && model.size > 0 ? existing() : randomKey(rnd);
        const got = m.get(key);
        const want = model.get(key);
        check(
          `get ${JSON.stringify(key)}`,
          got === undefined
            ? undefined
            : { seq: got.seq, value: got.value, expiresAtMs: got.expiresAtMs ?? 0 },
          want,
        );
      } else {
        const pick = rnd();
        const from = pick < 0.2 ? undefined : pick < 0.6 && model.size > 0 ? existing() : randomKey(rnd);
        const limit = rnd() < 0.5 ? Infinity : Math.floor(rnd() * 20);
        const got: [string, Model][] = [];
        for (const [k, v] of m.entries(from)) {
          if (got.length >= limit) break;
          got.push([k, { seq: v.seq, value: v.value, expiresAtMs: v.expiresAtMs ?? 0 }]);
        }
        check(`entries from ${JSON.stringify(from)}`, got, sortedModel(model, from).slice(0, limit));
      }
      check('size', m.size, model.size);
    }
    check(
      'final order',
      [...m.entries()].map(([k]) => k),
      sortedModel(model).map(([k]) => k),
    );
    check('minSeq/maxSeq', [m.minSeq, m.maxSeq], [1, seq]);
  });
});
