/**
 * The memtable's inline keys against a model (CONVENTIONS habit 10; memtable.ts, "Entries"): a key
 * of up to 20 bytes lives in its 64-byte entry, a longer one in the arena. Seeded random puts,
 * overwrites (shorter and longer values), deletes and expiries over keys whose lengths sit on that
 * boundary (0, 1, 19, 20, 21, 22 and longer), that share 20-byte prefixes, and that hold 0x00 and
 * 0xff bytes; through enough keys that the entry buffer grows and the hash table rehashes between
 * reads. After each read step the point reads, ordered reads (as a scan or a flush takes them) and
 * the memory accounting (`bytes`: value bytes written, key bytes and ENTRY_OVERHEAD per key) must
 * equal the model's. DISTKV_SEED=N replays a run.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENTRY_OVERHEAD, Memtable } from '../../src/storage/memtable.js';
import { seededRandom, testSeed } from '../helpers/random.js';

interface Model {
  seq: number;
  value: Buffer | null;
  expiresAtMs: number;
}

const LENGTHS = [0, 1, 2, 19, 20, 20, 20, 21, 21, 22, 23, 40, 300];
const BYTES = [0x00, 0x01, 0x61, 0x62, 0x7f, 0x80, 0xfe, 0xff];

/** keyFrom draws a key: a shared 20-byte stem cut or extended to a boundary length, its bytes from a small alphabet with 0x00 and 0xff. */
function keyFrom(rnd: () => number, stems: readonly string[]): string {
  const len = LENGTHS[Math.floor(rnd() * LENGTHS.length)]!;
  let k = stems[Math.floor(rnd() * stems.length)]!.slice(0, len);
  while (k.length < len) k += String.fromCharCode(BYTES[Math.floor(rnd() * BYTES.length)]!);
  // Sometimes one byte differs, anywhere (the 4-bytes-a-step compare, the inline boundary).
  if (len > 0 && rnd() < 0.3) {
    const at = Math.floor(rnd() * len);
    k = k.slice(0, at) + String.fromCharCode(BYTES[Math.floor(rnd() * BYTES.length)]!) + k.slice(at + 1);
  }
  return k;
}

function valueOf(rnd: () => number, seq: number): Buffer {
  const len = rnd() < 0.02 ? 300_000 + Math.floor(rnd() * 10) : Math.floor(rnd() * (rnd() < 0.5 ? 8 : 120));
  return Buffer.alloc(len, seq & 0xff);
}

function sortedModel(model: Map<string, Model>, from?: string): [string, Model][] {
  return [...model]
    .filter(([k]) => from === undefined || k >= from)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

describe('memtable inline keys against a model', () => {
  it('answers reads and accounts bytes as a Map would, for keys around the 20-byte inline limit', () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    const stems = Array.from({ length: 4 }, () =>
      Array.from({ length: 20 }, () => String.fromCharCode(BYTES[Math.floor(rnd() * BYTES.length)]!)).join(
        '',
      ),
    );
    const m = new Memtable();
    const model = new Map<string, Model>();
    const keys: string[] = [];
    const knownKey = (): string => keys[Math.floor(rnd() * keys.length)]!;
    let bytes = 0;
    let seq = 0;
    const check = (label: string, got: unknown, want: unknown): void => {
      assert.deepEqual(got, want, `${label} (DISTKV_SEED=${seed}, seq ${seq})`);
    };
    for (let step = 0; step < 10_000; step++) {
      const r = rnd();
      // New keys keep coming (grow and rehash happen between reads), overwrites of known ones too.
      if (r < 0.7) {
        const known = model.size > 0 && rnd() < 0.4;
        const key = known ? knownKey() : keyFrom(rnd, stems);
        seq++;
        const kind = rnd();
        const value = kind < 0.15 ? null : valueOf(rnd, seq);
        const expiresAtMs = value !== null && kind > 0.85 ? 1_000 + Math.floor(rnd() * 1e6) : 0;
        const bytesOfKey = Buffer.from(key, 'latin1');
        if (rnd() < 0.5) m.apply(rnd() < 0.5 ? key : bytesOfKey, seq, value, expiresAtMs);
        else {
          // A replicated batch: key and value are ranges of one larger buffer.
          const batch = Buffer.concat([
            Buffer.from([0xff, 0x00]),
            bytesOfKey,
            value ?? Buffer.alloc(0),
            Buffer.from([0xff]),
          ]);
          const v = 2 + bytesOfKey.length;
          m.applyFrom(
            batch,
            2,
            v,
            seq,
            value === null ? null : batch,
            v,
            v + (value?.length ?? 0),
            expiresAtMs,
          );
        }
        if (!model.has(key)) {
          bytes += key.length + ENTRY_OVERHEAD;
          keys.push(key);
        }
        bytes += value?.length ?? 0;
        model.set(key, { seq, value, expiresAtMs });
        continue;
      }
      if (r < 0.85) {
        const key = model.size > 0 && rnd() < 0.7 ? knownKey() : keyFrom(rnd, stems);
        const got = m.get(key);
        check(
          `get ${JSON.stringify(key)}`,
          got === undefined
            ? undefined
            : {
                seq: got.seq,
                value: got.value === null ? null : Buffer.from(got.value),
                expiresAtMs: got.expiresAtMs ?? 0,
              },
          model.get(key),
        );
      } else {
        const from = rnd() < 0.3 ? undefined : keyFrom(rnd, stems);
        const got = [...m.entries(from)].map(([k, v]): [string, Model] => [
          k,
          {
            seq: v.seq,
            value: v.value === null ? null : Buffer.from(v.value),
            expiresAtMs: v.expiresAtMs ?? 0,
          },
        ]);
        check(`entries from ${JSON.stringify(from)}`, got, sortedModel(model, from));
      }
      check('size', m.size, model.size);
      check('bytes', m.bytes, bytes);
    }
    check(
      'final order',
      [...m.entries()].map(([k]) => k),
      sortedModel(model).map(([k]) => k),
    );
    check('minSeq/maxSeq', [m.minSeq, m.maxSeq], [1, seq]);
  });
});
