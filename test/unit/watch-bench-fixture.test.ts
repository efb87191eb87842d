/**
 * The watch bench's event counter (bench/lib/watch-fixture.ts) must be exact, or the bench's
 * per-round check (every watcher received every write) means nothing: it counts the put events of
 * a real SSE stream, and the put frames of a real binary stream of either version (the server's
 * own encodings, framed in HTTP chunks, seqs small and past 2^40, with jumps) however the stream
 * is cut into reads, and a binary stream's change out of order per shard is reported. Randomized and seeded (DISTKV_SEED replays).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  countPutMarkers,
  MIN_PUT_EVENT,
  PUT_MARKER,
  PutCounter,
  StreamCounter,
} from '../../bench/lib/watch-fixture.js';
import { frameChunk } from '../../src/http/http1-exchange.js';
import type { LogRecord } from '../../src/watch/store-log.js';
import {
  BINARY_MEDIA_TYPE,
  KEEPALIVE_FRAMES,
  jsonFrame,
  type StreamVersion,
} from '../../src/watch/watch-binary-format.js';
import { sharedBlock, sseFrame } from '../../src/watch/watch-event.js';
import { seededRandom, testSeed } from '../helpers/random.js';

/** stream builds a watch response body: hello, flushes of put/delete events with their id lines. */
function stream(rand: () => number): { bytes: Buffer; puts: number } {
  const pieces: Buffer[] = [
    Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'),
    frameChunk([Buffer.from(sseFrame('{"type":"hello"}', 'hello', '0:0.0'))]).framed,
  ];
  let puts = 0;
  let seq = 0;
  const flushes = 1 + Math.floor(rand() * 30);
  for (let f = 0; f < flushes; f++) {
    const batch: LogRecord[] = [];
    const n = Math.floor(rand() * 40);
    for (let i = 0; i < n; i++) {
      // Keys and values that spell the marker's words, quotes and line feeds: JSON escapes them.
      const key = rand() < 0.1 ? `key\nevent: put\n${String(i)}` : `key${String(Math.floor(rand() * 1e6))}`;
      const len = rand() < 0.5 ? Math.floor(rand() * 4) : Math.floor(rand() * 300);
      const value = Buffer.from(rand() < 0.2 ? '\nevent: put\n"}'.repeat(len % 7) : 'v'.repeat(len));
      const kind = rand() < 0.15 ? 'delete' : 'put';
      if (kind === 'put') puts++;
      batch.push({ kind, seq: ++seq, key: Buffer.from(key), value: kind === 'put' ? value : undefined });
    }
    const block = sharedBlock(batch, f % 4, Buffer.from('key'), true, 'sse', () => 0);
    if (block.length > 0) pieces.push(frameChunk([block, Buffer.from(`id: 0:0.${String(seq)}\n\n`)]).framed);
    if (rand() < 0.2)
      pieces.push(frameChunk([Buffer.from(sseFrame('{"type":"progress"}', 'progress', 'x'))]).framed);
  }
  return { bytes: Buffer.concat(pieces), puts };
}

/** countInReads feeds `bytes` to a PutCounter in reads ending at `cuts`, through one reused buffer. */
function countInReads(bytes: Buffer, cuts: readonly number[]): number {
  const c = new PutCounter();
  feedInReads(bytes, cuts, (buffer, n) => {
    c.add(buffer, n);
  });
  return c.count;
}

/** feedInReads hands `bytes` to `add` in reads ending at `cuts`, through one reused buffer. */
function feedInReads(bytes: Buffer, cuts: readonly number[], add: (buffer: Buffer, n: number) => void): void {
  const buffer = Buffer.alloc(bytes.length + 1);
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    if (to <= from) continue;
    buffer.fill(0x65); // stale bytes from an earlier read must not count
    bytes.copy(buffer, 0, from, to);
    add(buffer, to - from);
    from = to;
  }
}

describe('watch bench: PutCounter', () => {
  it('counts each put event once in one read, and nothing in deletes, hello or progress', () => {
    const seed = testSeed();
    const rand = seededRandom(seed);
    for (let round = 0; round < 50; round++) {
      const { bytes, puts } = stream(rand);
      assert.equal(countPutMarkers(bytes, 0, bytes.length), puts, `seed ${seed}`);
      assert.equal(countInReads(bytes, []), puts, `seed ${seed}`);
    }
  });

  it('counts a put event split across reads once, wherever the cut falls (one-byte reads too)', () => {
    const seed = testSeed();
    const rand = seededRandom(seed);
    for (let round = 0; round < 50; round++) {
      const { bytes, puts } = stream(rand);
      const cuts: number[] = [];
      for (let at = 0; at < bytes.length;) {
        at += rand() < 0.3 ? 1 : 1 + Math.floor(rand() * 400);
        cuts.push(at);
      }
      assert.equal(countInReads(bytes, cuts), puts, `seed ${seed} round ${round}`);
    }
    // Every cut inside (and around) one marker.
    const { bytes, puts } = stream(seededRandom(seed + 1));
    const first = bytes.indexOf(PUT_MARKER);
    if (first >= 0)
      for (let cut = first - 1; cut <= first + PUT_MARKER.length + 1; cut++)
        assert.equal(countInReads(bytes, [cut]), puts, `seed ${seed} cut ${cut}`);
  });

  it('MIN_PUT_EVENT is no longer than the shortest put event the server encodes', () => {
    const r: LogRecord = { kind: 'put', seq: 1, key: Buffer.alloc(0), value: Buffer.alloc(0) };
    const block = sharedBlock([r], 0, Buffer.alloc(0), true, 'sse', () => 0);
    assert.ok(MIN_PUT_EVENT <= block.length, `${MIN_PUT_EVENT} > ${block.length}`);
  });
});

/** binaryStream builds a binary watch response: head, version, hello, flushes of changes over 4 shards. */
function binaryStream(
  version: StreamVersion,
  rand: () => number,
  disorderAt = -1,
): { bytes: Buffer; puts: number; keys: string[] } {
  const head = `HTTP/1.1 200 OK\r\nContent-Type: ${BINARY_MEDIA_TYPE}; version=${version}\r\nTransfer-Encoding: chunked\r\n\r\n`;
  const hello = '{"type":"hello","shards":[0,1,2,3],"elsewhere":{},"cursor":"0:0.0"}';
  const pieces: Buffer[] = [
    Buffer.from(head),
    frameChunk([Buffer.from([version])]).framed,
    frameChunk([jsonFrame(hello, version)]).framed,
  ];
  // (a stream with a repeated seq starts every shard at 0: the first change of a shard is above it)
  const seqs = [0, 0, 0, 0].map(() =>
    disorderAt < 0 && rand() < 0.3 ? 2 ** 40 + Math.floor(rand() * 1000) : 0,
  );
  let puts = 0;
  let changes = 0;
  const keys: string[] = [];
  const flushes = 1 + Math.floor(rand() * 30);
  for (let f = 0; f < flushes; f++) {
    const blocks: Buffer[] = [];
    for (let shard = 0; shard < 4; shard++) {
      const batch: LogRecord[] = [];
      for (let n = Math.floor(rand() * 15); n > 0; n--) {
        const kind = rand() < 0.15 ? 'delete' : 'put';
        const key =
          rand() < 0.2 ? `keylat/${String(f)}-${String(n)}` : `key${'x'.repeat(Math.floor(rand() * 200))}`;
        const len = rand() < 0.5 ? Math.floor(rand() * 4) : Math.floor(rand() * 300);
        // the change numbered `disorderAt` repeats its shard's previous seq
        // (and some jump ahead: a delta of more than one varint byte)
        const step = rand() < 0.1 ? 1 + Math.floor(rand() * 100000) : 1;
        const seq = changes++ === disorderAt ? seqs[shard]! : (seqs[shard]! += step);
        if (kind === 'put') {
          puts++;
          keys.push(key.slice(0, 64));
        }
        batch.push({
          kind,
          seq,
          key: Buffer.from(key),
          value: kind === 'put' ? Buffer.alloc(len, 0x0a) : undefined,
        });
      }
      blocks.push(
        sharedBlock(batch, shard, Buffer.from('key'), true, version === 1 ? 'bin1' : 'bin2', () => 1),
      );
    }
    if (rand() < 0.2) blocks.push(KEEPALIVE_FRAMES[version]);
    pieces.push(frameChunk(blocks).framed);
    if (rand() < 0.2)
      pieces.push(frameChunk([jsonFrame('{"type":"progress","cursor":"x"}', version)]).framed);
  }
  return { bytes: Buffer.concat(pieces), puts, keys };
}

/** streamInReads feeds `bytes` to a StreamCounter in reads ending at `cuts`, through one reused buffer. */
function streamInReads(bytes: Buffer, cuts: readonly number[], keys?: string[]): StreamCounter {
  const c = new StreamCounter();
  if (keys !== undefined) c.bin.onKey = (k) => keys.push(k);
  feedInReads(bytes, cuts, (buffer, n) => {
    c.add(buffer, n);
  });
  return c;
}

describe('watch bench: StreamCounter over the binary stream', () => {
  for (const version of [1, 2] as const) {
    it(`counts each put frame once and sees every key, wherever the reads are cut (version ${version})`, () => {
      const seed = testSeed();
      const rand = seededRandom(seed);
      for (let round = 0; round < 50; round++) {
        const { bytes, puts, keys } = binaryStream(version, rand);
        const cuts: number[] = [];
        for (let at = 0; at < bytes.length;) {
          at += rand() < 0.3 ? 1 + Math.floor(rand() * 3) : 1 + Math.floor(rand() * 400);
          cuts.push(at);
        }
        for (const c of [[], cuts]) {
          const seen: string[] = [];
          const counter = streamInReads(bytes, c, seen);
          assert.equal(counter.mode, 'bin', `seed ${seed}`);
          assert.equal(counter.bin.version, version, `seed ${seed}`);
          assert.ok(counter.hello, `seed ${seed}`);
          assert.equal(counter.count, puts, `seed ${seed} round ${round}`);
          assert.equal(counter.bin.disorder, 0, `seed ${seed} round ${round}`);
          assert.deepEqual(seen, keys, `seed ${seed} round ${round}`);
          // without onKey (every watcher but the probe's): version 2's fast path over delta changes
          const plain = streamInReads(bytes, c);
          assert.equal(plain.count, puts, `seed ${seed} round ${round} (no keys)`);
          assert.equal(plain.bin.disorder, 0, `seed ${seed} round ${round} (no keys)`);
        }
      }
      // Every single cut over the stream's first 600 bytes (head, version, hello, first frames).
      const { bytes, puts } = binaryStream(version, seededRandom(seed + 1));
      for (let cut = 0; cut < Math.min(600, bytes.length); cut++)
        assert.equal(streamInReads(bytes, [cut]).count, puts, `seed ${seed} cut ${cut}`);
    });

    it(`reports a change whose seq is not above its shard's last (version ${version})`, () => {
      const seed = testSeed();
      const rand = seededRandom(seed);
      let checked = 0;
      for (let round = 0; round < 20; round++) {
        const { bytes } = binaryStream(version, rand, 3);
        const counter = streamInReads(bytes, [Math.floor(bytes.length / 2)]);
        // (a stream with fewer than 4 changes repeats nothing)
        if (counter.bin.count + counter.bin.disorder >= 4) {
          assert.ok(counter.bin.disorder >= 1, `seed ${seed} round ${round}`);
          checked++;
        }
      }
      assert.ok(checked > 0, `seed ${seed}`);
    });
  }

  it('falls back to counting SSE when the response is an event stream', () => {
    const { bytes, puts } = stream(seededRandom(testSeed()));
    const counter = streamInReads(bytes, [7, 100]);
    assert.equal(counter.mode, 'sse');
    assert.equal(counter.count, puts);
  });
});
