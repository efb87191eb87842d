/**
 * viewRecord (wal-format.ts) reads a record's fields with unchecked byte reads once it has checked
 * the bytes are there: this seeded model test holds it to what encodeRecord wrote, for every record
 * type, seqs and expiries up to 2^53, keys and values of every length class, records at any offset
 * of a larger buffer, and to its damage reports ("short" for every cut inside a record, a checksum
 * mismatch for any flipped byte). It prints its seed when it fails (DISTKV_SEED replays it).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  encodeRecord,
  newRecordView,
  type RecordType,
  recordSize,
  TYPE_DELETE,
  TYPE_EXPIRE,
  TYPE_PUT,
  TYPE_PUT_TTL,
  viewRecord,
} from '../../src/storage/wal-format.js';
import { seededRandom, testSeed } from '../helpers/random.js';

const TYPES: RecordType[] = [TYPE_PUT, TYPE_DELETE, TYPE_PUT_TTL, TYPE_EXPIRE];

/** Written is one record as encodeRecord was given it, and where it starts. */
interface Written {
  at: number;
  type: RecordType;
  seq: number;
  key: Buffer;
  value: Buffer;
  expiresAtMs: number;
}

function lengthOf(rnd: () => number, max: number): number {
  const classes = [0, 1, 7, 8, 31, 32, 33, 255, 256, 4096, max];
  return rnd() < 0.5 ? classes[Math.floor(rnd() * classes.length)]! : Math.floor(rnd() * 300);
}

function bytes(rnd: () => number, len: number): Buffer {
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = Math.floor(rnd() * 256);
  return b;
}

/** bigNumber is a safe integer of any size class, up to 2^53 - 1. */
function bigNumber(rnd: () => number): number {
  const r = rnd();
  if (r < 0.2) return 2 ** 53 - 1 - Math.floor(rnd() * 1000);
  if (r < 0.4) return 2 ** 32 + Math.floor(rnd() * 1000) - 500;
  return Math.floor(rnd() * 2 ** (1 + Math.floor(rnd() * 52)));
}

describe('viewRecord', () => {
  it('gives back every field encodeRecord wrote, and reports cuts and flipped bytes, at any offset', () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    for (let round = 0; round < 40; round++) {
      const lead = Math.floor(rnd() * 9);
      const written: Written[] = [];
      const count = 1 + Math.floor(rnd() * 8);
      for (let i = 0; i < count; i++) {
        const type = TYPES[Math.floor(rnd() * TYPES.length)]!;
        const hasValue = type === TYPE_PUT || type === TYPE_PUT_TTL;
        written.push({
          at: 0,
          type,
          seq: bigNumber(rnd),
          key: bytes(rnd, lengthOf(rnd, 65535)),
          value: hasValue ? bytes(rnd, lengthOf(rnd, 70_000)) : Buffer.alloc(0),
          expiresAtMs: type === TYPE_PUT_TTL ? bigNumber(rnd) : 0,
        });
      }
      const size = written.reduce((n, w) => n + recordSize(w.key.length, w.value.length, w.type), lead);
      const b = Buffer.alloc(size);
      let at = lead;
      for (const w of written) {
        w.at = at;
        const value = w.type === TYPE_PUT || w.type === TYPE_PUT_TTL ? w.value : undefined;
        at += encodeRecord(b, at, w.type, w.seq, w.key, value, w.expiresAtMs);
      }
      const v = newRecordView();
      for (const [i, w] of written.entries()) {
        const where = `seed ${seed}, round ${round}, record ${i} (type ${w.type})`;
        assert.equal(viewRecord(b, w.at, v), undefined, where);
        assert.equal(v.type, w.type, where);
        assert.equal(v.seq, w.seq, where);
        assert.equal(v.expiresAtMs, w.expiresAtMs, where);
        assert.ok(b.subarray(v.keyStart, v.keyEnd).equals(w.key), `${where}: key`);
        assert.ok(b.subarray(v.valueStart, v.end).equals(w.value), `${where}: value`);
        assert.equal(v.end, i + 1 < written.length ? written[i + 1]!.at : size, where);
      }
      // Cut inside the last record (at its prefix, its fixed fields, its key and its value): short.
      const last = written[written.length - 1]!;
      for (const cut of [1, 4, 8, 12, 19, size - last.at - 1]) {
        if (cut <= 0 || last.at + cut >= size) continue;
        assert.equal(
          viewRecord(b.subarray(0, last.at + cut), last.at, v),
          'short',
          `seed ${seed}: cut ${cut}`,
        );
      }
      // A flipped byte after the checksum field is a mismatch (or a length or type found impossible).
      const flip = last.at + 4 + Math.floor(rnd() * (size - last.at - 4));
      b[flip] = b[flip]! ^ (1 << Math.floor(rnd() * 8));
      const damage = viewRecord(b, last.at, v);
      assert.ok(damage !== undefined, `seed ${seed}: flipped byte at ${flip - last.at} went unnoticed`);
    }
  });
});
