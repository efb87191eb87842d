/**
 * The commit log format (docs/commit-log-format.md): frames and the records inside them round-trip
 * for every record type of the record-format agreement (PUT, DELETE, PUT_TTL with its expiry,
 * EXPIRE), a frame header names its damage, and a store's id is a fixed function of its name.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BASE_BODY_BYTES,
  decodeBase,
  decodeFrameHeader,
  decodeLogHeader,
  decodeMark,
  encodeBaseFrame,
  encodeLogHeader,
  FRAME_BASE,
  FRAME_HEADER_BYTES,
  FRAME_MARK,
  FRAME_RECORDS,
  LOG_VERSION,
  LOG_VERSION_UNIDENTIFIED,
  LOG_VERSION_UNMARKED,
  MARK_FRAME_BYTES,
  newLogId,
  storeIdOf,
  writeFrameHeader,
  writeMarkFrame,
} from '../../src/storage/commit-log-format.js';
import { crc32c } from '../../src/storage/crc32c.js';
import {
  decodeRecord,
  encodeRecord,
  type RecordType,
  recordSize,
  TYPE_DELETE,
  TYPE_EXPIRE,
  TYPE_PUT,
  TYPE_PUT_TTL,
} from '../../src/storage/wal-format.js';

const b = (s: string): Buffer => Buffer.from(s);

describe('commit log format', () => {
  it('round-trips a frame of records of all four types, the TTL record without its expiry in value', () => {
    const recs: { type: RecordType; key: string; value: string; expiresAtMs: number }[] = [
      { type: TYPE_PUT, key: 'a', value: 'one', expiresAtMs: 0 },
      { type: TYPE_DELETE, key: 'b', value: '', expiresAtMs: 0 },
      { type: TYPE_PUT_TTL, key: 'c', value: 'three', expiresAtMs: 1_700_000_000_123 },
      { type: TYPE_EXPIRE, key: 'c', value: '', expiresAtMs: 0 },
      { type: TYPE_PUT_TTL, key: '', value: '', expiresAtMs: 2 ** 53 - 1 },
    ];
    const body = recs.reduce((n, r) => n + recordSize(r.key.length, r.value.length, r.type), 0);
    const frame = Buffer.alloc(FRAME_HEADER_BYTES + body);
    let at = FRAME_HEADER_BYTES;
    for (const [i, r] of recs.entries())
      at += encodeRecord(
        frame,
        at,
        r.type,
        41 + i,
        b(r.key),
        r.value === '' ? undefined : b(r.value),
        r.expiresAtMs,
      );
    assert.equal(at, frame.length, 'recordSize counts the expiry prefix');
    writeFrameHeader(frame, 0, FRAME_RECORDS, 0xdeadbeef, 3, body);
    const h = decodeFrameHeader(frame, 0);
    assert.deepEqual(h, { kind: FRAME_RECORDS, store: 0xdeadbeef, epoch: 3, len: body });
    at = FRAME_HEADER_BYTES;
    for (const [i, want] of recs.entries()) {
      const r = decodeRecord(frame, at);
      assert.ok(typeof r !== 'string', typeof r === 'string' ? r : '');
      assert.equal(r.type, want.type);
      assert.equal(r.seq, 41 + i);
      assert.equal(r.key.toString(), want.key);
      assert.equal(r.value.toString(), want.value);
      assert.equal(r.expiresAtMs, want.expiresAtMs);
      at += r.size;
    }
  });

  it('refuses a TTL record too short to hold its expiry and an unknown record type', () => {
    const rec = Buffer.alloc(recordSize(1, 0));
    encodeRecord(rec, 0, TYPE_PUT, 1, b('k'), undefined);
    const retype = (t: number): void => {
      rec[8] = t;
      rec.writeUInt32LE(crc32c(rec, 4, rec.length), 0); // re-signed: only the type is wrong
    };
    retype(TYPE_PUT_TTL);
    const bad = decodeRecord(rec, 0);
    assert.ok(typeof bad === 'string' && /no room for its expiry/.test(bad), 'a short TTL record is refused');
    retype(9);
    assert.equal(decodeRecord(rec, 0), 'unknown record type 9');
  });

  it('round-trips a base frame and a segment header, and names a damaged frame header', () => {
    const base = encodeBaseFrame(77, 2, 123_456_789_012);
    const h = decodeFrameHeader(base, 0);
    assert.deepEqual(h, { kind: FRAME_BASE, store: 77, epoch: 2, len: BASE_BODY_BYTES });
    assert.equal(decodeBase(base, FRAME_HEADER_BYTES), 123_456_789_012);
    const id = newLogId();
    assert.deepEqual(decodeLogHeader(encodeLogHeader(42, id)), { segmentNo: 42, logId: id, marked: true });
    const older = [
      [LOG_VERSION_UNMARKED, id, 'version 2: identity, no sync marks'],
      [LOG_VERSION_UNIDENTIFIED, undefined, 'version 1: no identity'],
    ] as const;
    for (const [version, logId, what] of older) {
      const h = encodeLogHeader(42, id);
      h[4] = version;
      assert.deepEqual(decodeLogHeader(h), { segmentNo: 42, logId, marked: false }, what);
    }
    const future = encodeLogHeader(1, id);
    future[4] = LOG_VERSION + 1;
    const refused = decodeLogHeader(future);
    assert.ok(typeof refused === 'string' && /unsupported commit log version/.test(refused));
    const flipped = Buffer.from(base);
    flipped[10]! ^= 1;
    assert.equal(decodeFrameHeader(flipped, 0), 'frame header checksum mismatch');
    assert.equal(decodeFrameHeader(base.subarray(0, FRAME_HEADER_BYTES + 3), 0), 'short');
  });

  it('round-trips a sync mark, whose checksum covers its body', () => {
    const mark = Buffer.alloc(MARK_FRAME_BYTES);
    writeMarkFrame(mark, 0, 987_654_321_012);
    assert.deepEqual(decodeFrameHeader(mark, 0), { kind: FRAME_MARK, store: 0, epoch: 0, len: 8 });
    assert.equal(decodeMark(mark, FRAME_HEADER_BYTES), 987_654_321_012);
    for (let i = 0; i < MARK_FRAME_BYTES; i++) {
      const flipped = Buffer.from(mark);
      flipped[i]! ^= 1;
      assert.equal(typeof decodeFrameHeader(flipped, 0), 'string', `a flip at byte ${i} is seen`);
    }
    assert.equal(decodeFrameHeader(mark.subarray(0, MARK_FRAME_BYTES - 1), 0), 'short');
  });

  it('gives a store the same id from its name on every start, and different stores different ids', () => {
    assert.equal(storeIdOf('127.0.0.1_8080/shard-0'), storeIdOf('127.0.0.1_8080/shard-0'));
    const ids = new Set(
      ['8080', '8081'].flatMap((p) => [0, 1, 2, 3].map((i) => storeIdOf(`127.0.0.1_${p}/shard-${i}`))),
    );
    assert.equal(ids.size, 8);
  });
});
