/**
 * The replica's SnapshotDecoder (src/replication/snapshot-format.ts) fed a stream in pieces: every
 * entry comes out whole and in order whatever the split (inside a header, an entry's head, its key,
 * its value, the end marker or its exactSeq), with values from 0 bytes to several MiB mixed, and it
 * copies each byte of the stream at most twice (joining every piece onto what was pending copied a
 * large value once per piece). Randomized tests print their seed when they fail (DISTKV_SEED replays).
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import {
  encodeSnapshotEntries,
  encodeSnapshotExactSeq,
  encodeSnapshotHeader,
  SnapshotDecoder,
} from '../../src/replication/snapshot-format.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { sealSnapshot } from '../helpers/snapshot-stream.js';

interface Entry {
  key: Buffer;
  value: Buffer;
  seq: number;
  expiresAtMs: number;
}

const MiB = 1024 * 1024;

function streamOf(entries: readonly Entry[], seq: number, exactSeq: number): Buffer {
  return sealSnapshot([
    encodeSnapshotHeader(seq),
    encodeSnapshotEntries(entries, true),
    encodeSnapshotExactSeq(exactSeq),
  ]);
}

/** decodeIn feeds `stream` cut at `cuts` (ascending offsets) and returns the entries, copied out. */
function decodeIn(stream: Buffer, cuts: readonly number[]): { d: SnapshotDecoder; got: Entry[] } {
  const d = new SnapshotDecoder();
  const got: Entry[] = [];
  let from = 0;
  for (const to of [...cuts, stream.length]) {
    for (const e of d.push(stream.subarray(from, to)))
      got.push({
        key: Buffer.from(e.key),
        value: Buffer.from(e.value),
        seq: e.seq ?? -1,
        expiresAtMs: e.expiresAtMs ?? -1,
      });
    from = to;
  }
  return { d, got };
}

/** randomEntries mixes empty, small and large values (up to `maxValue`), and keys up to 300 bytes. */
function randomEntries(rand: () => number, n: number, maxValue: number): Entry[] {
  return Array.from({ length: n }, (_, i) => {
    const r = rand();
    const valueLen =
      r < 0.2 ? 0 : r < 0.6 ? Math.floor(rand() * 100) : Math.floor(rand() * maxValue) + (r < 0.7 ? 1 : 0);
    const value = Buffer.alloc(valueLen);
    for (let k = 0; k < valueLen; k += 4093) value[k] = (i + k) & 0xff;
    if (valueLen > 0) value[valueLen - 1] = i & 0xff;
    return {
      key: Buffer.from(`k${i}-${'x'.repeat(Math.floor(rand() * 300))}`),
      value,
      seq: Math.floor(rand() * 2 ** 45),
      expiresAtMs: rand() < 0.5 ? 0 : 1_900_000_000_000 + i,
    };
  });
}

/** withSeed runs `body` with a fresh seed and prints it when it throws. */
function withSeed(name: string, body: (rand: () => number, seed: number) => void): void {
  const seed = testSeed();
  try {
    body(seededRandom(seed), seed);
  } catch (err) {
    console.error(`snapshot-decoder ${name}: seed ${seed} (DISTKV_SEED=${seed} replays)`);
    throw err;
  }
}

/** countCopies counts the bytes Buffer.concat copies while `body` runs. */
function countCopies(t: TestContext, body: () => void): number {
  const concat = Buffer.concat.bind(Buffer);
  let copied = 0;
  const mock = t.mock.method(Buffer, 'concat', (list: readonly Uint8Array[], total?: number) => {
    const b = concat(list, total);
    copied += b.length;
    return b;
  });
  try {
    body();
  } finally {
    mock.mock.restore();
  }
  return copied;
}

describe('snapshot decoder: a stream fed in pieces', () => {
  it('decodes the same entries whatever single boundary splits the stream', () => {
    const entries = randomEntries(seededRandom(7), 12, 300);
    const stream = streamOf(entries, 2 ** 40 + 1, 2 ** 40 + 5);
    for (let cut = 0; cut <= stream.length; cut++) {
      const { d, got } = decodeIn(stream, [cut]);
      assert.deepEqual(got, entries, `cut at ${cut}`);
      assert.equal(d.exactSeq, 2 ** 40 + 5, `cut at ${cut}`);
      assert.equal(d.done, true);
    }
  });

  it('decodes large values mixed with small ones fed in random pieces, byte-sized ones included', () => {
    withSeed('random pieces', (rand, seed) => {
      for (let round = 0; round < 4; round++) {
        const entries = randomEntries(rand, 40, 3 * MiB);
        const stream = streamOf(entries, 3, 9);
        const cuts: number[] = [];
        // Pieces of 1 byte to 256 KiB, and runs of 1-byte pieces that fall inside heads and markers.
        for (let at = 0; at < stream.length;) {
          at += rand() < 0.3 ? 1 : 1 + Math.floor(rand() * (rand() < 0.5 ? 64 : 256 * 1024));
          if (at < stream.length) cuts.push(at);
        }
        const { d, got } = decodeIn(stream, cuts);
        assert.equal(got.length, entries.length, `seed ${seed} round ${round}`);
        for (let i = 0; i < entries.length; i++)
          assert.deepEqual(got[i], entries[i], `seed ${seed} entry ${i}`);
        assert.equal(d.seq, 3);
        assert.equal(d.exactSeq, 9);
      }
    });
  });

  it('copies each byte at most twice: an 8 MiB value fed in 16 KiB pieces is joined once', (t) => {
    const entries: Entry[] = [
      { key: Buffer.from('small'), value: Buffer.alloc(10, 1), seq: 1, expiresAtMs: 0 },
      { key: Buffer.from('large'), value: Buffer.alloc(8 * MiB, 2), seq: 2, expiresAtMs: 0 },
      { key: Buffer.from('after'), value: Buffer.alloc(100_000, 3), seq: 3, expiresAtMs: 0 },
    ];
    const stream = streamOf(entries, 1, 3);
    const cuts: number[] = [];
    for (let at = 16 * 1024 - 7; at < stream.length; at += 16 * 1024) cuts.push(at);
    let got: Entry[] = [];
    const copied = countCopies(t, () => {
      got = decodeIn(stream, cuts).got;
    });
    assert.deepEqual(
      got.map((e) => e.value.length),
      entries.map((e) => e.value.length),
    );
    assert.ok(copied <= 2 * stream.length, `copied ${copied} bytes of a ${stream.length}-byte stream`);
  });

  it('takes nothing after the end marker and its exactSeq', () => {
    const stream = streamOf(randomEntries(seededRandom(3), 3, 50), 1, 2);
    const d = new SnapshotDecoder();
    d.push(stream);
    assert.equal(d.done, true);
    assert.deepEqual(d.push(stream), []);
  });
});
