/**
 * What the watch hub reads of a store's log on the main thread (src/watch/store-log.ts decodeLog)
 * and how a broadcast looks up the epochs of a batch (src/watch/watch-event.ts batchEpochs).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistkvError } from '../../src/errors.js';
import {
  encodeRecord,
  type RecordType,
  recordSize,
  TYPE_DELETE,
  TYPE_EXPIRE,
  TYPE_PUT,
  TYPE_PUT_TTL,
} from '../../src/storage/wal-format.js';
import { epochOfSeq } from '../../src/routing/version.js';
import { MemoryLog } from '../../src/storage/memory-log.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { SLOT_COUNT } from '../../src/routing/slot.js';
import { decodeLog, type LogRecord } from '../../src/watch/store-log.js';
import { watchRead, watchScan } from '../../src/watch/watch-tap.js';
import { batchEpochs } from '../../src/watch/watch-event.js';
import { changeFrames } from '../../src/watch/watch-binary-format.js';
import { seededRandom, testSeed } from '../helpers/random.js';

const KIND: Record<RecordType, LogRecord['kind']> = {
  [TYPE_PUT]: 'put',
  [TYPE_PUT_TTL]: 'put',
  [TYPE_DELETE]: 'delete',
  [TYPE_EXPIRE]: 'expire',
};

/** randomLog encodes `n` random records as readLog returns them, and what each must decode to. */
function randomLog(rand: () => number, n: number): { bytes: Buffer; expected: LogRecord[] } {
  const types = [TYPE_PUT, TYPE_PUT_TTL, TYPE_DELETE, TYPE_EXPIRE] as const;
  const parts: Buffer[] = [];
  const expected: LogRecord[] = [];
  let seq = Math.floor(rand() * 2 ** 40);
  for (let i = 0; i < n; i++) {
    const type = types[Math.floor(rand() * types.length)]!;
    const key = Buffer.from(Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256)));
    const value =
      type === TYPE_PUT || type === TYPE_PUT_TTL
        ? Buffer.from(Array.from({ length: rand() < 0.2 ? 0 : Math.floor(rand() * 300) }, (_, j) => j & 0xff))
        : undefined;
    seq += 1 + Math.floor(rand() * 3);
    const b = Buffer.alloc(recordSize(key.length, value?.length ?? 0, type));
    encodeRecord(b, 0, type, seq, key, value, type === TYPE_PUT_TTL ? 1e12 + i : 0);
    parts.push(b);
    expected.push({ kind: KIND[type], seq, key, value });
  }
  return { bytes: Buffer.concat(parts), expected };
}

describe('watch: decodeLog', () => {
  it('decodes every record type (keys of any bytes, empty values, a TTL put without its expiry)', () => {
    const seed = testSeed();
    const rand = seededRandom(seed);
    for (let round = 0; round < 100; round++) {
      const { bytes, expected } = randomLog(rand, Math.floor(rand() * 30));
      // (a record's fields as LogRecord names them: decodeLog's records make their views on demand)
      const plain = decodeLog(bytes).map((r) => ({ kind: r.kind, seq: r.seq, key: r.key, value: r.value }));
      assert.deepEqual(plain, expected, `seed ${seed} round ${round}`);
    }
  });

  it('encodes its records in place as the same change frames as the records they name (seeded)', () => {
    // changeFrames reads a decoded record's key and value from the batch's bytes by their offsets
    // (no views made); the bytes must be those of the plain records, for any prefix and choice.
    const seed = testSeed();
    const rand = seededRandom(seed);
    for (let round = 0; round < 100; round++) {
      const { bytes, expected } = randomLog(rand, Math.floor(rand() * 30));
      const decoded = decodeLog(bytes);
      const keys = expected.map((r) => r.key);
      const pick = keys[Math.floor(rand() * keys.length)] ?? Buffer.alloc(0);
      const prefix = pick.subarray(0, Math.floor(rand() * (pick.length + 1)));
      for (const version of [1, 2] as const)
        for (const values of [true, false]) {
          const epochOf = (seq: number): number => (seq > 40 ? 3 : 1);
          assert.deepEqual(
            changeFrames(decoded, 5, prefix, values, epochOf, version),
            changeFrames(expected, 5, prefix, values, epochOf, version),
            `seed ${seed} round ${round} version ${version} values ${String(values)}`,
          );
        }
    }
  });

  it('refuses a batch whose last record is cut short, or a record of an unknown type, as corruption', () => {
    const { bytes } = randomLog(seededRandom(1), 5);
    assert.throws(
      () => decodeLog(bytes.subarray(0, bytes.length - 1)),
      (err: unknown) => {
        return err instanceof DistkvError && err.code === 'CORRUPTION' && /short/.test(err.message);
      },
    );
    const unknown = Buffer.from(bytes);
    unknown[8] = 9;
    assert.throws(
      () => decodeLog(unknown),
      (err: unknown) => err instanceof DistkvError && err.code === 'CORRUPTION',
    );
  });
});

describe('watch: batchEpochs', () => {
  const history = [
    { epoch: 0, firstSeq: 1 },
    { epoch: 1, firstSeq: 10 },
    { epoch: 3, firstSeq: 20 },
  ];
  const lookups: number[] = [];
  const epochOf = (seq: number): number => {
    lookups.push(seq);
    return epochOfSeq(history, seq);
  };
  const batch = (from: number, to: number): LogRecord[] =>
    Array.from({ length: to - from + 1 }, (_, i) => ({
      kind: 'delete',
      seq: from + i,
      key: Buffer.alloc(0),
      value: undefined,
    }));

  it('looks the epoch up once for a batch inside one epoch', () => {
    lookups.length = 0;
    const of = batchEpochs(batch(11, 19), epochOf);
    assert.deepEqual(
      batch(11, 19).map((r) => of(r.seq)),
      Array<number>(9).fill(1),
    );
    assert.deepEqual(lookups, [11, 19]);
  });

  it('gives each record of a batch that spans a failover its own epoch', () => {
    const of = batchEpochs(batch(8, 21), epochOf);
    assert.deepEqual(
      batch(8, 21).map((r) => of(r.seq)),
      batch(8, 21).map((r) => epochOfSeq(history, r.seq)),
    );
    assert.deepEqual([of(9), of(10), of(19), of(20)], [0, 1, 1, 3]);
  });
});

describe('watch: the worker side names the epoch of the store it read', () => {
  // src/watch/forked-store.ts reads no store whose newest records are older than the map's epoch there.
  it("answers watch-read and watch-scan with the epoch of the store's newest records", async () => {
    const store = new MemoryStore(Date.now, new MemoryLog());
    await store.put(Buffer.from('k'), Buffer.from('v'));
    store.replication!.epoch = 3;
    const read = await watchRead(store, {
      type: 'watch-read',
      id: 1,
      store: 0,
      after: 0,
      maxBytes: 1024,
      waitMs: 0,
    });
    assert.ok(read.type === 'watch-read-result');
    assert.equal(read.epoch, 3);
    const page = watchScan(
      store,
      { first: 0, last: SLOT_COUNT - 1 },
      {
        type: 'watch-scan',
        id: 2,
        store: 0,
        prefix: Buffer.alloc(0),
        after: null,
        limit: 10,
        maxBytes: 1024,
        keysOnly: false,
      },
    );
    assert.ok(page.type === 'watch-scan-result');
    assert.equal(page.epoch, 3);
    assert.equal(page.entries.length, 1);
  });
});
