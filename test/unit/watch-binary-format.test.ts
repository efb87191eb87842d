/**
 * The binary watch stream (src/watch/watch-binary-format.ts, watch-binary-reader.ts), both
 * versions: what the server encodes, the client library's reader decodes to the same events,
 * however the stream is cut into chunks, for keys of 1..1024 bytes (any UTF-8), values from empty
 * to 1 MiB, seqs up to 2^53 - 1 with any jumps, epochs up to 2^32 - 1 changing inside a block,
 * shards interleaving; records outside the prefix are left out. Version 2's deltas restart at
 * every block, so a block decodes the same after anything (what a broadcast's members rely on).
 * A damaged stream is refused with a message that says what is wrong. Randomized: a seeded
 * generator and a fast-check property (DISTKV_SEED replays either; fast-check prints its seed
 * and the shrunk case on failure).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DistkvError } from '../../src/errors.js';
import { formatVersion } from '../../src/routing/version.js';
import type { LogRecord } from '../../src/watch/store-log.js';
import {
  ABSOLUTE,
  changeFrames,
  jsonFrame,
  KEEPALIVE_FRAMES,
  type StreamVersion,
  TYPE_DELETE,
  TYPE_JSON,
  TYPE_PUT,
} from '../../src/watch/watch-binary-format.js';
import { BinaryWatchReader, type DecodedFrame } from '../../src/watch/watch-binary-reader.js';
import { seededRandom, testSeed } from '../helpers/random.js';

const ALPHABET = ['a', 'z', '/', '{', '"', '\\', '\n', 'é', '€', '😀', 'k'];

function pick(rand: () => number, max: number): number {
  // Boundaries first: 0, 1, max and max - 1 come up often.
  const r = rand();
  if (r < 0.1) return 0;
  if (r < 0.15) return Math.min(1, max);
  if (r < 0.2) return max;
  if (r < 0.25) return Math.max(0, max - 1);
  return Math.floor(rand() * (max + 1));
}

function randomKey(rand: () => number, prefix: string): Buffer {
  let key = rand() < 0.7 ? prefix : '';
  const target = 1 + pick(rand, 60);
  while (Buffer.byteLength(key) < target) key += ALPHABET[Math.floor(rand() * ALPHABET.length)]!;
  // a key at the 1024-byte limit
  if (rand() < 0.05) key = prefix + 'x'.repeat(1024 - Buffer.byteLength(prefix));
  // a key that is not UTF-8 (a byte that never is): it travels as its bytes
  if (rand() < 0.2 && Buffer.byteLength(key) < 1024)
    return Buffer.from([...Buffer.from(key), 0x80 + pick(rand, 0x80)]);
  return Buffer.from(key);
}

function randomValue(rand: () => number): Buffer {
  const r = rand();
  const size = r < 0.02 ? 1024 * 1024 : r < 0.1 ? pick(rand, 70000) : pick(rand, 300);
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i += 97) b[i] = Math.floor(rand() * 256);
  return b;
}

interface Case {
  stream: Buffer;
  expected: DecodedFrame[];
}

/** randomStream encodes hello, batches of changes and some JSON and keep-alive frames. */
function randomStream(version: StreamVersion, rand: () => number): Case {
  const prefix = rand() < 0.3 ? '' : 'p/';
  const values = rand() < 0.8;
  const pieces: Buffer[] = [Buffer.from([version]), jsonFrame('{"type":"hello","cursor":"0:0.0"}', version)];
  const expected: DecodedFrame[] = [{ type: 'json', json: '{"type":"hello","cursor":"0:0.0"}' }];
  let seq = rand() < 0.2 ? 2 ** 53 - 200 : pick(rand, 2 ** 40);
  const batches = 1 + Math.floor(rand() * 6);
  for (let b = 0; b < batches; b++) {
    const shard = rand() < 0.2 ? 16383 : pick(rand, 8);
    const epoch = rand() < 0.2 ? 2 ** 32 - 1 : pick(rand, 5);
    const batch: LogRecord[] = [];
    for (let n = Math.floor(rand() * 12); n > 0; n--) {
      const r = rand();
      const kind = r < 0.7 ? 'put' : r < 0.85 ? 'delete' : 'expire';
      batch.push({
        kind,
        seq: ++seq,
        key: randomKey(rand, prefix),
        value: kind === 'put' ? randomValue(rand) : undefined,
      });
    }
    pieces.push(changeFrames(batch, shard, Buffer.from(prefix), values, () => epoch, version));
    for (const r of batch)
      if (r.key.toString('latin1').startsWith(prefix))
        expected.push({
          type: r.kind,
          shard,
          key: r.key,
          version: formatVersion({ epoch, seq: r.seq }),
          value: r.kind === 'put' ? (values ? r.value : Buffer.alloc(0)) : undefined,
        });
    if (rand() < 0.3) pieces.push(KEEPALIVE_FRAMES[version]);
    if (rand() < 0.3) {
      const json = JSON.stringify({ type: 'progress', cursor: `0:0.${String(seq)}`, note: 'é😀' });
      pieces.push(jsonFrame(json, version));
      expected.push({ type: 'json', json });
    }
  }
  return { stream: Buffer.concat(pieces), expected };
}

function decodeInChunks(stream: Buffer, rand: () => number): DecodedFrame[] {
  const reader = new BinaryWatchReader();
  const out: DecodedFrame[] = [];
  for (let at = 0; at < stream.length;) {
    const size = rand() < 0.3 ? 1 : 1 + Math.floor(rand() * 5000);
    out.push(...reader.push(stream.subarray(at, at + size)));
    at += size;
  }
  return out;
}

const MIB = 1024 * 1024;
const MAX_SEQ = 2 ** 53 - 1;
const MAX_EPOCH = 2 ** 32 - 1;

/** A generated block: one shard's batch, its seqs from `start` by `steps`, its epoch changing at `epochAt`. */
interface BlockSpec {
  shard: number;
  start: number;
  steps: number[];
  kinds: ('put' | 'delete' | 'expire')[];
  keys: { bytes: number; char: string; inPrefix: boolean }[];
  sizes: number[];
  epochs: [number, number];
  epochAt: number;
}

// Boundaries of one and two varint bytes, of u16/u32 and the largest values come up often.
const seqStepArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant(1) },
  { weight: 3, arbitrary: fc.constantFrom(2, 127, 128, 16383, 16384, 2 ** 32, 2 ** 40) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 2 ** 45 }) },
);
const sizeArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 300 }) },
  { weight: 2, arbitrary: fc.constantFrom(0, 1, 127, 128, 16383, 16384, MIB - 1, MIB) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 70000 }) },
);
const keyArb = fc.record({
  bytes: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(1, 127, 128, 1023, 1024)),
  char: fc.constantFrom('a', '/', '"', '\n', 'é', '€', '😀'),
  inPrefix: fc.boolean(),
});
const blockArb: fc.Arbitrary<BlockSpec> = fc.integer({ min: 0, max: 10 }).chain((n) =>
  fc.record({
    shard: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constantFrom(127, 128, 16383)),
    start: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.constantFrom(2 ** 32 - 5, MAX_SEQ - 2 ** 46)),
    steps: fc.array(seqStepArb, { minLength: n, maxLength: n }),
    kinds: fc.array(fc.constantFrom('put' as const, 'put' as const, 'delete' as const, 'expire' as const), {
      minLength: n,
      maxLength: n,
    }),
    keys: fc.array(keyArb, { minLength: n, maxLength: n }),
    sizes: fc.array(sizeArb, { minLength: n, maxLength: n }),
    epochs: fc.tuple(
      fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constant(MAX_EPOCH - 1)),
      fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constant(MAX_EPOCH)),
    ),
    epochAt: fc.integer({ min: 0, max: n }),
  }),
);

function keyOf(k: BlockSpec['keys'][number]): Buffer {
  let key = k.inPrefix ? 'p/' : 'q/';
  while (Buffer.byteLength(key + k.char) <= k.bytes) key += k.char;
  return Buffer.from(key);
}

/** encodeBlock encodes a generated block and returns it with the frames it must decode to. */
function encodeBlock(
  spec: BlockSpec,
  values: boolean,
  version: StreamVersion,
): { bytes: Buffer; expected: DecodedFrame[] } {
  const batch: LogRecord[] = [];
  let seq = spec.start;
  spec.steps.forEach((step, i) => {
    seq = Math.min(MAX_SEQ, seq + step);
    if (seq === batch[batch.length - 1]?.seq) return;
    const kind = spec.kinds[i]!;
    const value = kind === 'put' ? Buffer.alloc(spec.sizes[i]!, i) : undefined;
    batch.push({ kind, seq, key: keyOf(spec.keys[i]!), value });
  });
  const epochFrom = batch[spec.epochAt]?.seq ?? Infinity;
  const epochOf = (s: number): number => (s < epochFrom ? spec.epochs[0] : Math.max(...spec.epochs));
  const expected: DecodedFrame[] = batch
    .filter((r) => r.key.toString('latin1').startsWith('p/'))
    .map((r) => ({
      type: r.kind,
      shard: spec.shard,
      key: r.key,
      version: formatVersion({ epoch: epochOf(r.seq), seq: r.seq }),
      value: r.kind === 'put' ? (values ? r.value : Buffer.alloc(0)) : undefined,
    }));
  return { bytes: changeFrames(batch, spec.shard, Buffer.from('p/'), values, epochOf, version), expected };
}

describe('binary watch stream', () => {
  for (const version of [1, 2] as const)
    it(`decodes every event as encoded, in order, whole or cut into chunks anywhere (version ${version})`, () => {
      const seed = testSeed();
      const rand = seededRandom(seed);
      for (let round = 0; round < 60; round++) {
        const { stream, expected } = randomStream(version, rand);
        assert.deepEqual(new BinaryWatchReader().push(stream), expected, `seed ${seed} round ${round}`);
        assert.deepEqual(decodeInChunks(stream, rand), expected, `seed ${seed} round ${round} (chunked)`);
      }
    });

  for (const version of [1, 2] as const)
    it(`round-trips blocks of interleaved shards, seq and epoch jumps, sizes 0..limit (fast-check, version ${version})`, () => {
      fc.assert(
        fc.property(
          fc.array(blockArb, { minLength: 1, maxLength: 6 }),
          fc.boolean(),
          fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 8 }),
          (blocks, values, cuts) => {
            const pieces: Buffer[] = [Buffer.from([version])];
            const expected: DecodedFrame[] = [];
            for (const spec of blocks) {
              const b = encodeBlock(spec, values, version);
              pieces.push(b.bytes, KEEPALIVE_FRAMES[version]);
              expected.push(...b.expected);
            }
            const stream = Buffer.concat(pieces);
            assert.deepEqual(new BinaryWatchReader().push(stream), expected);
            const reader = new BinaryWatchReader();
            const got: DecodedFrame[] = [];
            for (let at = 0, i = 0; at < stream.length; i++) {
              const size = cuts[i % cuts.length]!;
              got.push(...reader.push(stream.subarray(at, at + size)));
              at += size;
            }
            assert.deepEqual(got, expected);
          },
        ),
        { seed: testSeed(), numRuns: 150 },
      );
    });

  it('decodes a version 2 block the same after any other block: deltas restart at each block', () => {
    fc.assert(
      fc.property(blockArb, blockArb, fc.boolean(), (first, second, values) => {
        const a = encodeBlock(first, values, 2);
        const b = encodeBlock(second, values, 2);
        const alone = new BinaryWatchReader().push(Buffer.concat([Buffer.from([2]), b.bytes]));
        const after = new BinaryWatchReader()
          .push(Buffer.concat([Buffer.from([2]), a.bytes, b.bytes]))
          .slice(a.expected.length);
        assert.deepEqual(after, alone);
        assert.deepEqual(alone, b.expected);
        // and the block starts with an absolute change
        if (b.bytes.length > 0) assert.ok((b.bytes[0]! & ABSOLUTE) !== 0);
      }),
      { seed: testSeed(), numRuns: 200 },
    );
  });

  it('writes a change after the first of its block in 3 bytes plus key and value (version 2)', () => {
    const batch: LogRecord[] = [100, 101, 102].map((seq) => ({
      kind: 'put',
      seq,
      key: Buffer.from('key12345'),
      value: Buffer.alloc(100, 0x61),
    }));
    const v1 = changeFrames(batch, 3, Buffer.from('key'), true, () => 0, 1);
    const v2 = changeFrames(batch, 3, Buffer.from('key'), true, () => 0, 2);
    assert.equal(v1.length, 3 * (21 + 108));
    // the first: type, length, shard, epoch, seq, key length; the others: type, length, delta, key length
    assert.equal(v2.length, 6 + 108 + 2 * (4 + 108));
    assert.equal(v2[0], ABSOLUTE | TYPE_PUT);
    assert.equal(v2[6 + 108], TYPE_PUT);
  });

  for (const version of [1, 2] as const)
    it(`skips a frame of a type it does not know (version ${version})`, () => {
      const unknown =
        version === 1 ? Buffer.from([3, 0, 0, 0, 99, 1, 2, 3]) : Buffer.from([0x40, 3, 1, 2, 3]);
      const frames = new BinaryWatchReader().push(
        Buffer.concat([Buffer.from([version]), unknown, jsonFrame('{"type":"progress"}', version)]),
      );
      assert.deepEqual(frames, [{ type: 'json', json: '{"type":"progress"}' }]);
    });

  it('refuses another version and a version 1 change whose key overruns its frame', () => {
    assert.throws(() => new BinaryWatchReader().push(Buffer.from([3])), /version 3; expected 1 or 2/);
    const r: LogRecord = { kind: 'delete', seq: 5, key: Buffer.from('abc'), value: undefined };
    const frame = changeFrames([r], 0, Buffer.alloc(0), true, () => 0, 1);
    frame.writeUInt16LE(200, 19);
    assert.throws(
      () => new BinaryWatchReader().push(Buffer.concat([Buffer.from([1]), frame])),
      (err: unknown) => err instanceof DistkvError && /key of 200 bytes overruns/.test(err.message),
    );
  });

  describe('refuses a damaged version 2 stream, saying what is wrong and where', () => {
    const refused = (bytes: number[], message: RegExp): void => {
      assert.throws(
        () => new BinaryWatchReader().push(Buffer.from([2, ...bytes])),
        (err: unknown) =>
          err instanceof DistkvError && err.code === 'CORRUPTION' && message.test(err.message),
      );
    };
    it('a delta change with no change before it', () => {
      refused([TYPE_PUT, 3, 1, 1, 0x61], /offset 1: delta change with no change before it/);
    });
    it('a delta of 0', () => {
      refused(
        [ABSOLUTE | TYPE_PUT, 5, 0, 0, 7, 1, 0x61, TYPE_PUT, 3, 0, 1, 0x62],
        /offset 8: .*seq delta of 0/,
      );
    });
    it('a change header cut short by its frame length', () => {
      refused([ABSOLUTE | TYPE_PUT, 2, 0, 0], /change seq overruns its frame/);
      refused([ABSOLUTE | TYPE_PUT, 3, 0, 0, 0x85], /change seq overruns its frame/);
    });
    it('a key longer than its frame', () => {
      refused([ABSOLUTE | TYPE_PUT, 5, 0, 0, 7, 9, 0x61], /key of 9 bytes overruns its frame/);
    });
    it('a varint of more than 8 bytes, a seq over 2^53 - 1, an epoch over 2^32 - 1, a frame over 1 GiB', () => {
      refused(
        [ABSOLUTE | TYPE_PUT, 12, 0, 0, ...Array<number>(9).fill(0xff), 0],
        /varint longer than 8 bytes/,
      );
      refused(
        [ABSOLUTE | TYPE_PUT, 11, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0],
        /over 2\^53 - 1/,
      );
      refused([ABSOLUTE | TYPE_DELETE, 8, 0, 0x80, 0x80, 0x80, 0x80, 0x10, 1, 0], /epoch 4294967296/);
      refused([TYPE_JSON, 0x81, 0x80, 0x80, 0x80, 0x04], /frame of 1073741825 bytes/);
    });
    it('but waits for the rest of a frame cut by the chunk: a truncated frame is no frame yet', () => {
      const full = changeFrames(
        [{ kind: 'put', seq: 9, key: Buffer.from('k'), value: Buffer.from('v') }],
        1,
        Buffer.alloc(0),
        true,
        () => 0,
        2,
      );
      const reader = new BinaryWatchReader();
      assert.deepEqual(reader.push(Buffer.concat([Buffer.from([2]), full.subarray(0, full.length - 1)])), []);
      assert.equal(reader.push(full.subarray(full.length - 1)).length, 1);
    });
  });
});
