/**
 * A broadcast's SSE block (sharedBlock, src/watch/watch-event.ts) is written straight into bytes
 * for plain keys and values: it must be exactly the frames of the events as JSON.stringify writes
 * them (docs/watch.md, "Events"), for every key and value, plain or not. Randomized and seeded
 * (DISTKV_SEED replays).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LogRecord } from '../../src/watch/store-log.js';
import { changeEvent, sharedBlock } from '../../src/watch/watch-event.js';
import { seededRandom, testSeed } from '../helpers/random.js';

const ALPHABET = ['a', 'k', '/', ' ', '~', '"', '\\', '\n', '\t', '\u007f', 'é', '€', '😀', '{', '}'];

function text(rand: () => number, n: number, plain: boolean): string {
  let s = '';
  for (let i = 0; i < n; i++)
    s += plain ? ALPHABET[Math.floor(rand() * 5)]! : ALPHABET[Math.floor(rand() * ALPHABET.length)]!;
  return s;
}

function randomRecord(rand: () => number, seq: number): LogRecord {
  const kind = rand() < 0.7 ? 'put' : rand() < 0.5 ? 'delete' : 'expire';
  const key = (rand() < 0.8 ? 'p' : 'q') + text(rand, Math.floor(rand() * 12), rand() < 0.7);
  let value: Buffer | undefined;
  if (kind === 'put') {
    const r = rand();
    if (r < 0.6) value = Buffer.from(text(rand, Math.floor(rand() * 300), true));
    else if (r < 0.8) value = Buffer.from(text(rand, Math.floor(rand() * 20), false));
    else if (r < 0.9)
      value = Buffer.from([0xff, 0xfe, 0x41]); // not UTF-8: value_base64
    else value = Buffer.alloc(0);
  }
  return { kind, seq, key, value };
}

/** reference is what the frames must be: each event as JSON.stringify writes it. */
function reference(batch: readonly LogRecord[], shard: number, prefix: string, values: boolean): string {
  let out = '';
  for (const r of batch) {
    if (!r.key.startsWith(prefix)) continue;
    const ev = changeEvent(r.kind, shard, r.key, values ? r.value : undefined, {
      epoch: r.seq % 3,
      seq: r.seq,
    });
    out += `event: ${r.kind}\ndata: ${JSON.stringify(ev)}\n\n`;
  }
  return out;
}

describe('watch events: shared SSE block', () => {
  it('is byte for byte the JSON.stringify frames, for plain and escaped keys and values', () => {
    const seed = testSeed();
    const rand = seededRandom(seed);
    let seq = 0;
    for (let round = 0; round < 300; round++) {
      const batch: LogRecord[] = [];
      const n = Math.floor(rand() * 20);
      for (let i = 0; i < n; i++) batch.push(randomRecord(rand, (seq += 1 + Math.floor(rand() * 1e6))));
      const shard = Math.floor(rand() * 20);
      const values = rand() < 0.8;
      const prefix = rand() < 0.5 ? 'p' : '';
      const block = sharedBlock(batch, shard, prefix, values, 'sse', (s) => s % 3);
      assert.equal(
        block.toString('utf8'),
        reference(batch, shard, prefix, values),
        `seed ${seed} round ${round}`,
      );
    }
  });
});
