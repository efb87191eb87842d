/**
 * A broadcast's SSE block (sharedBlock, src/watch/watch-event.ts) is written straight into bytes
 * for plain keys and values: it must be exactly the frames of the events as JSON.stringify writes
 * them (docs/watch.md, "Events"), for every key and value, plain or not. Randomized and seeded
 * (DISTKV_SEED replays). A key that is not UTF-8 is named exactly in every format (`key_base64`
 * in JSON, its bytes in the binary stream), and the prefix is matched on bytes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LogRecord } from '../../src/watch/store-log.js';
import { BinaryWatchReader, type DecodedChange } from '../../src/watch/watch-binary-reader.js';
import {
  changeEvent,
  keyFields,
  sharedBlock,
  valueFields,
  type WireFormat,
} from '../../src/watch/watch-event.js';
import { type CursorAround, cursorAround } from '../../src/watch/watch-cursor.js';
import { seededRandom, testSeed } from '../helpers/random.js';

const ALPHABET = ['a', 'k', '/', ' ', '~', '"', '\\', '\n', '\t', '\u007f', 'é', '€', '😀', '{', '}'];

function text(rand: () => number, n: number, plain: boolean): string {
  let s = '';
  for (let i = 0; i < n; i++)
    s += plain ? ALPHABET[Math.floor(rand() * 5)]! : ALPHABET[Math.floor(rand() * ALPHABET.length)]!;
  return s;
}

function randomRecord(rand: () => number, seq: number): LogRecord {
  const text_ = (rand() < 0.8 ? 'p' : 'q') + text(rand, Math.floor(rand() * 12), rand() < 0.7);
  // a key that is not UTF-8 (bytes that never are, or a cut character): key_base64
  const key = Buffer.from(text_);
  const bad = rand() < 0.15 ? [[0xff], [0x80], [0xc3]][Math.floor(rand() * 3)]! : [];
  return record(rand, seq, Buffer.concat([key, Buffer.from(bad)]));
}

function record(rand: () => number, seq: number, key: Buffer): LogRecord {
  const kind = rand() < 0.7 ? 'put' : rand() < 0.5 ? 'delete' : 'expire';
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

/**
 * reference is what the frames must be: each event as JSON.stringify writes it, after its own id
 * (the cursor with the shard's item at the event's version, the other shards' items around it).
 */
function reference(
  batch: readonly LogRecord[],
  shard: number,
  prefix: string,
  values: boolean,
  around: CursorAround,
): string {
  let out = '';
  for (const r of batch) {
    if (!r.key.toString('latin1').startsWith(prefix)) continue;
    const ev = changeEvent(r.kind, shard, r.key, values ? r.value : undefined, {
      epoch: r.seq % 3,
      seq: r.seq,
    });
    const id = `${around.before}${String(shard)}:${String(r.seq % 3)}.${String(r.seq)}${around.after}`;
    out += `id: ${id}\nevent: ${r.kind}\ndata: ${JSON.stringify(ev)}\n\n`;
  }
  return out;
}

describe('watch events: shared SSE block', () => {
  it('is byte for byte the JSON.stringify frames, each after its own id, for plain and escaped keys and values', () => {
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
      // the stream's other shards, before and after this one (none: a stream of one shard)
      const items = [0, 1, 2]
        .filter(() => rand() < 0.5)
        .map((j) => `${String(shard + j + 1)}:1.${String(j)}`);
      const at = Math.floor(rand() * (items.length + 1));
      const around = cursorAround([...items.slice(0, at), 'x', ...items.slice(at)], at);
      const block = sharedBlock(batch, shard, Buffer.from(prefix), values, 'sse', (s) => s % 3, around);
      assert.equal(
        block.toString('utf8'),
        reference(batch, shard, prefix, values, around),
        `seed ${seed} round ${round}`,
      );
    }
  });
});

/** KEYS are keys a JSON text shows alike: `q\xFF1`, `q\x801` and `q\uFFFD1` (bytes EF BF BD) all read `q\uFFFD1`. */
const KEYS = [
  Buffer.from([0x71, 0xff, 0x31]),
  Buffer.from([0x71, 0x80, 0x31]),
  Buffer.from('q\uFFFD1'),
  Buffer.from([0x71, 0xc3]), // a cut character
  Buffer.from('qé'),
  Buffer.from('q"\n'),
  Buffer.from([0x72, 0xff]),
];

/**
 * decodeBlock decodes a block of `format` back to one item per event: `fromJson` of a JSON event,
 * `fromChange` of a binary change frame.
 */
function decodeBlock(
  block: Buffer,
  format: WireFormat,
  fromJson: (json: string) => Buffer,
  fromChange: (f: DecodedChange) => Buffer,
): Buffer[] {
  if (format === 'sse')
    return block
      .toString('utf8')
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => fromJson(l.slice(6)));
  if (format === 'ws') {
    const out: Buffer[] = [];
    for (let at = 0; at < block.length;) {
      const len = block[at + 1]!;
      assert.ok(len < 126, 'short test messages');
      out.push(fromJson(block.toString('utf8', at + 2, at + 2 + len)));
      at += 2 + len;
    }
    return out;
  }
  return new BinaryWatchReader()
    .push(Buffer.concat([Buffer.from([format === 'bin1' ? 1 : 2]), block]))
    .map((f) => (f.type === 'json' ? fromJson(f.json) : fromChange(f)));
}

/** exactKeys decodes a block of `format` back to each event's key bytes. */
function exactKeys(block: Buffer, format: WireFormat): Buffer[] {
  return decodeBlock(
    block,
    format,
    (json) => {
      const ev = JSON.parse(json) as { key: string; key_base64?: string };
      return ev.key_base64 === undefined ? Buffer.from(ev.key) : Buffer.from(ev.key_base64, 'base64');
    },
    (f) => f.key,
  );
}

describe('watch events: keys that are not UTF-8', () => {
  for (const format of ['sse', 'ws', 'bin1', 'bin2'] as const)
    it(`name each key exactly and filter the prefix on bytes (${format})`, () => {
      for (const prefix of ['', 'q', 'q\uFFFD', 'q\uFFFD1', 'qé']) {
        const bytes = Buffer.from(prefix);
        const batch: LogRecord[] = KEYS.map((key, i) => ({
          kind: i % 3 === 2 ? 'delete' : 'put',
          seq: i + 1,
          key,
          value: i % 3 === 2 ? undefined : Buffer.from('v'),
        }));
        const block = sharedBlock(batch, 0, bytes, true, format, () => 0);
        const want = KEYS.filter((k) => k.subarray(0, bytes.length).equals(bytes)).map((k) =>
          k.toString('hex'),
        );
        assert.deepEqual(
          exactKeys(block, format).map((k) => k.toString('hex')),
          want,
          `prefix ${JSON.stringify(prefix)}`,
        );
      }
    });

  it('keyFields adds key_base64 only to a key that is not UTF-8 (U+FFFD itself is text)', () => {
    assert.deepEqual(keyFields(Buffer.from('q\uFFFD1')), { key: 'q\uFFFD1' });
    assert.deepEqual(keyFields(Buffer.from([0x71, 0xff])), { key: 'q\uFFFD', key_base64: 'cf8=' });
    assert.deepEqual(keyFields(Buffer.from('plain')), { key: 'plain' });
  });
});

/** VALUES are values a JSON event must give back byte for byte (the decoder must not eat a leading BOM). */
const VALUES = [
  Buffer.from('\uFEFFhello'), // a UTF-8 byte order mark first: text, and kept
  Buffer.from('\uFEFF'),
  Buffer.from('a\uFEFFb'),
  Buffer.from([0xef, 0xbb, 0xbf, 0xff]), // a BOM, then not UTF-8: value_base64
  Buffer.from('plain'),
  Buffer.alloc(0),
];

/** exactValues decodes a block of `format` back to each put's value bytes. */
function exactValues(block: Buffer, format: WireFormat): Buffer[] {
  return decodeBlock(
    block,
    format,
    (json) => {
      const ev = JSON.parse(json) as { value?: string; value_base64?: string };
      return ev.value_base64 === undefined
        ? Buffer.from(ev.value ?? '')
        : Buffer.from(ev.value_base64, 'base64');
    },
    (f) => f.value ?? Buffer.alloc(0),
  );
}

describe('watch events: values', () => {
  for (const format of ['sse', 'ws', 'bin1', 'bin2'] as const)
    it(`give each value's exact bytes, a leading byte order mark included (${format})`, () => {
      const batch: LogRecord[] = VALUES.map((value, i) => ({
        kind: 'put',
        seq: i + 1,
        key: Buffer.from('k'),
        value,
      }));
      const block = sharedBlock(batch, 0, Buffer.alloc(0), true, format, () => 0);
      assert.deepEqual(
        exactValues(block, format).map((v) => v.toString('hex')),
        VALUES.map((v) => v.toString('hex')),
      );
    });

  it('valueFields (a snapshot entry) keeps a leading byte order mark', () => {
    for (const v of VALUES) {
      const f = valueFields(v);
      const back =
        f.value_base64 === undefined ? Buffer.from(f.value ?? '') : Buffer.from(f.value_base64, 'base64');
      assert.equal(back.toString('hex'), v.toString('hex'));
    }
  });
});
