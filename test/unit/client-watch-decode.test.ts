/**
 * The client's watch decoding (src/client/watch-decode.ts) against the decoding it replaced
 * (test/helpers/legacy-watch-decode.ts): on seeded random binary streams of either version — puts,
 * deletes and expires of several shards, keys that are not UTF-8, empty keys and values, changes a
 * reconnect repeats (at or below a shard's position), hello and progress cursors, snapshots
 * (begin, entries with base64 keys and values, end), keep-alives, a resume and bytes after it —
 * cut into chunks anywhere, every yielded event must read the same: type, shard, key, keyBytes,
 * value, version, snapshot and cursor.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFrames, type WatchChange, WatchEvents } from '../../src/client/watch-decode.js';
import type { LogRecord } from '../../src/watch/store-log.js';
import {
  changeFrames,
  jsonFrame,
  KEEPALIVE_FRAMES,
  type StreamVersion,
} from '../../src/watch/watch-binary-format.js';
import { legacyChanges } from '../helpers/legacy-watch-decode.js';
import { seededRandom, testSeed } from '../helpers/random.js';

const PREFIX = Buffer.from('p/');

/** view is everything a caller can read of a change, as one line. */
function view(c: WatchChange): string {
  return [
    c.type,
    c.shard,
    c.key ?? '-',
    c.keyBytes?.toString('hex') ?? '-',
    c.value?.toString('hex') ?? '-',
    c.version ?? '-',
    c.snapshot === true ? 'snapshot' : '-',
    c.cursor,
  ].join(' ');
}

/** randomKey is a key under PREFIX: UTF-8 text, bytes that are not UTF-8, or nothing after the prefix. */
function randomKey(rand: () => number): Buffer {
  const pick = rand();
  if (pick < 0.1) return PREFIX;
  if (pick < 0.3)
    return Buffer.concat([
      PREFIX,
      Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 6) }, () => 0x80 + Math.floor(rand() * 0x80))),
    ]);
  if (pick < 0.4) return Buffer.from(`p/é${String(Math.floor(rand() * 100))}\uFFFD`);
  return Buffer.from(`p/k${String(Math.floor(rand() * 1000))}`);
}

/** randomStream is a binary stream of `version` with every kind of event, and whether it asked for values. */
function randomStream(version: StreamVersion, rand: () => number): { stream: Buffer; values: boolean } {
  const values = rand() < 0.8;
  const shards = 1 + Math.floor(rand() * 5);
  const seqs = Array.from({ length: shards }, () => Math.floor(rand() * 50));
  const epochs = Array.from({ length: shards }, () => Math.floor(rand() * 3));
  const pieces: Buffer[] = [Buffer.from([version])];
  const json = (ev: unknown): void => {
    pieces.push(jsonFrame(JSON.stringify(ev), version));
  };
  const cursorText = (): string =>
    seqs.map((s, i) => `${String(i)}:${String(epochs[i])}.${String(s)}`).join(',');
  json({ type: 'hello', shards: seqs.map((_, i) => i), elsewhere: {}, cursor: cursorText() });
  const steps = 5 + Math.floor(rand() * 30);
  for (let step = 0; step < steps; step++) {
    const shard = Math.floor(rand() * shards);
    const pick = rand();
    if (pick < 0.6) {
      const batch: LogRecord[] = [];
      const n = 1 + Math.floor(rand() * 40);
      // a reconnect may repeat what was already yielded: those changes must be dropped
      let seq = rand() < 0.1 ? Math.max(1, seqs[shard]! - Math.floor(rand() * 5)) : seqs[shard]!;
      for (let i = 0; i < n; i++) {
        seq += 1 + (rand() < 0.1 ? Math.floor(rand() * 300) : 0);
        const r = rand();
        const kind = r < 0.7 ? 'put' : r < 0.85 ? 'delete' : 'expire';
        const size = rand() < 0.2 ? 0 : Math.floor(rand() * 200);
        batch.push({
          kind,
          seq,
          key: randomKey(rand),
          value: kind === 'put' ? Buffer.alloc(size, seq & 0xff) : undefined,
        });
      }
      if (rand() < 0.1) epochs[shard]!++;
      const epoch = epochs[shard]!;
      pieces.push(changeFrames(batch, shard, PREFIX, values, () => epoch, version));
      seqs[shard] = Math.max(seqs[shard]!, seq);
    } else if (pick < 0.7) {
      json({ type: 'progress', cursor: cursorText() });
    } else if (pick < 0.8) {
      pieces.push(KEEPALIVE_FRAMES[version]);
    } else {
      json({ type: 'snapshot-begin', shard, version: `${String(epochs[shard])}.${String(seqs[shard])}` });
      for (let i = Math.floor(rand() * 4); i > 0; i--) {
        const key = randomKey(rand);
        const value = Buffer.alloc(Math.floor(rand() * 20), i);
        json({
          type: 'put',
          shard,
          snapshot: true,
          key: key.toString('utf8'),
          ...(key.toString('utf8').includes('\uFFFD') ? { key_base64: key.toString('base64') } : {}),
          ...(values ? { value_base64: value.toString('base64') } : {}),
        });
      }
      seqs[shard]! += Math.floor(rand() * 100);
      json({
        type: 'snapshot-end',
        shard,
        version: `${String(epochs[shard])}.${String(seqs[shard])}`,
        cursor: cursorText(),
      });
    }
  }
  if (rand() < 0.5) {
    json({ type: 'resume', reason: 'slow', cursor: cursorText() });
    // nothing after a resume is read
    pieces.push(
      changeFrames(
        [{ kind: 'put', seq: 1e9, key: PREFIX, value: Buffer.alloc(1) }],
        0,
        PREFIX,
        values,
        () => 9,
        version,
      ),
    );
  }
  return { stream: Buffer.concat(pieces), values };
}

/** chunksOf cuts `stream` at random places (some chunks of one byte). */
function chunksOf(stream: Buffer, rand: () => number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < stream.length;) {
    const size = rand() < 0.2 ? 1 : 1 + Math.floor(rand() * 700);
    out.push(stream.subarray(at, at + size));
    at += size;
  }
  return out;
}

async function decode(chunks: readonly Buffer[], values: boolean): Promise<WatchChange[]> {
  const out: WatchChange[] = [];
  const events = new WatchEvents(
    values,
    (c) => {
      out.push(c);
    },
    () => undefined,
  );
  async function* body(): AsyncGenerator<Buffer> {
    for (const c of chunks) yield await Promise.resolve(c);
  }
  await readFrames(body(), events, () => Promise.resolve());
  return out;
}

describe('client watch decoding', () => {
  for (const version of [1, 2] as const)
    it(`yields what the old decoding yielded, event by event, whatever the chunks (version ${version})`, async () => {
      const seed = testSeed();
      const rand = seededRandom(seed);
      for (let round = 0; round < 150; round++) {
        const { stream, values } = randomStream(version, rand);
        const chunks = chunksOf(stream, rand);
        const expected = legacyChanges(chunks, values).map(view);
        assert.deepEqual((await decode(chunks, values)).map(view), expected, `seed ${seed} round ${round}`);
        assert.deepEqual(
          (await decode([stream], values)).map(view),
          expected,
          `seed ${seed} round ${round} (whole)`,
        );
      }
    });

  it('gives each event the cursor after it, whatever moves later, in a copy and in JSON too', async () => {
    const batch = (shard: number, from: number): Buffer =>
      changeFrames(
        [1, 2].map((i) => ({
          kind: 'put' as const,
          seq: from + i,
          key: Buffer.from(`p/${String(i)}`),
          value: Buffer.from('v'),
        })),
        shard,
        PREFIX,
        true,
        () => 0,
        2,
      );
    const got = await decode(
      [Buffer.concat([Buffer.from([2]), batch(1, 0), batch(0, 10), batch(1, 2)])],
      true,
    );
    assert.deepEqual(
      got.map((c) => c.cursor),
      ['1:0.1', '1:0.2', '0:0.11,1:0.2', '0:0.12,1:0.2', '0:0.12,1:0.3', '0:0.12,1:0.4'],
    );
    assert.deepEqual({ ...got[2] }.cursor, '0:0.11,1:0.2', 'a copy of an event carries its cursor');
    assert.match(JSON.stringify(got[2]), /"cursor":"0:0.11,1:0.2"/);
  });
});
