/**
 * The binary watch stream (src/watch/watch-binary-format.ts): what the server encodes, the
 * client library's reader decodes to the same events, however the stream is cut into chunks, for
 * keys of 1..1024 bytes (any UTF-8), values from empty to 1 MiB, seqs up to 2^53 - 1, epochs up
 * to 2^32 - 1 and every shard number; records outside the prefix are left out; a damaged stream
 * is refused. Randomized and seeded (DISTKV_SEED replays).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistkvError } from '../../src/errors.js';
import { formatVersion } from '../../src/routing/version.js';
import type { LogRecord } from '../../src/watch/store-log.js';
import {
  BinaryWatchReader,
  changeFrames,
  type DecodedFrame,
  jsonFrame,
  KEEPALIVE_FRAME,
  VERSION,
} from '../../src/watch/watch-binary-format.js';
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

function randomKey(rand: () => number, prefix: string): string {
  let key = rand() < 0.7 ? prefix : '';
  const target = 1 + pick(rand, 60);
  while (Buffer.byteLength(key) < target) key += ALPHABET[Math.floor(rand() * ALPHABET.length)]!;
  // a key at the 1024-byte limit
  if (rand() < 0.05) key = prefix + 'x'.repeat(1024 - Buffer.byteLength(prefix));
  return key;
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
function randomStream(rand: () => number): Case {
  const prefix = rand() < 0.3 ? '' : 'p/';
  const values = rand() < 0.8;
  const pieces: Buffer[] = [Buffer.from([VERSION]), jsonFrame('{"type":"hello","cursor":"0:0.0"}')];
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
    pieces.push(changeFrames(batch, shard, prefix, values, () => epoch));
    for (const r of batch)
      if (r.key.startsWith(prefix))
        expected.push({
          type: r.kind,
          shard,
          key: r.key,
          version: formatVersion({ epoch, seq: r.seq }),
          value: r.kind === 'put' ? (values ? r.value : Buffer.alloc(0)) : undefined,
        });
    if (rand() < 0.3) pieces.push(KEEPALIVE_FRAME);
    if (rand() < 0.3) {
      const json = JSON.stringify({ type: 'progress', cursor: `0:0.${String(seq)}`, note: 'é😀' });
      pieces.push(jsonFrame(json));
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

describe('binary watch stream', () => {
  it('decodes every event as encoded, in order, whole or cut into chunks anywhere', () => {
    const seed = testSeed();
    const rand = seededRandom(seed);
    for (let round = 0; round < 60; round++) {
      const { stream, expected } = randomStream(rand);
      assert.deepEqual(new BinaryWatchReader().push(stream), expected, `seed ${seed} round ${round}`);
      assert.deepEqual(decodeInChunks(stream, rand), expected, `seed ${seed} round ${round} (chunked)`);
    }
  });

  it('skips a frame of a type it does not know', () => {
    const unknown = Buffer.from([3, 0, 0, 0, 99, 1, 2, 3]);
    const frames = new BinaryWatchReader().push(
      Buffer.concat([Buffer.from([VERSION]), unknown, jsonFrame('{"type":"progress"}')]),
    );
    assert.deepEqual(frames, [{ type: 'json', json: '{"type":"progress"}' }]);
  });

  it('refuses another version and a change whose key overruns its frame', () => {
    assert.throws(() => new BinaryWatchReader().push(Buffer.from([VERSION + 1])), DistkvError);
    const r: LogRecord = { kind: 'delete', seq: 5, key: 'abc', value: undefined };
    const frame = changeFrames([r], 0, '', true, () => 0);
    frame.writeUInt16LE(200, 19);
    assert.throws(
      () => new BinaryWatchReader().push(Buffer.concat([Buffer.from([VERSION]), frame])),
      DistkvError,
    );
  });
});
