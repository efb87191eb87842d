/**
 * The RESP listener reads every connection into one buffer (src/server/shared-read.ts), which the
 * next read of any connection overwrites, while the parser hands out views that commands keep.
 * Connections write pipelined SET (some with an expiry) / GET / KEYS commands in random pieces, interleaved, with pauses
 * so the server reads them separately; every reply must carry exactly that connection's bytes.
 * Seeded (DISTKV_SEED replays one schedule).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { taggedText, writeInterleaved } from '../helpers/interleaved-writes.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { respOf } from '../helpers/resp.js';
import { encode, splitReplies, startRespPair, Wire } from './resp-wire.js';

let A = '';
let stop = (): Promise<void> => Promise.resolve();

before(async () => {
  ({ A, stop } = await startRespPair());
});

after(() => stop());

describe('RESP connections sharing one read buffer', () => {
  it('answers every pipelined command of connections written in random pieces (seeded)', async () => {
    const seed = testSeed();
    const rnd = seededRandom(seed);
    const conns = 5;
    const wires = await Promise.all(Array.from({ length: conns }, () => Wire.open(respOf(A))));
    const streams: Buffer[] = [];
    const expected: string[][] = [];
    for (let c = 0; c < conns; c++) {
      const parts: Buffer[] = [];
      const want: string[] = [];
      for (let i = 0; i < 20; i++) {
        // one hash tag per connection: its keys share a slot, so KEYS below lists exactly them
        const key = `{sr${seed}c${c}}k${i}`;
        // A SET with an expiry holds its key until it is applied: the GET behind it waits with
        // its arguments kept past the read they came in, which other connections' reads
        // overwrite (short values put that GET early in a read, where any read lands).
        const ordered = i % 4 === 3;
        const value = taggedText(`${c}.${i}`, Math.floor(rnd() * (ordered ? 20 : 5000)));
        const set = ordered ? ['SET', key, value, 'PX', '600000'] : ['SET', key, value];
        parts.push(encode(set), encode(['GET', key]));
        want.push('+OK\r\n', `$${value.length}\r\n${value}\r\n`);
      }
      // KEYS runs after the replies before it: its pattern is used after later reads arrived.
      parts.push(encode(['KEYS', `{sr${seed}c${c}}k1?`]));
      const listed = Array.from({ length: 10 }, (_, j) => `{sr${seed}c${c}}k${10 + j}`);
      want.push(`*10\r\n${listed.map((k) => `$${k.length}\r\n${k}\r\n`).join('')}`);
      streams.push(Buffer.concat(parts));
      expected.push(want);
    }
    await writeInterleaved(
      wires.map((w) => w.socket),
      streams,
      rnd,
      700,
    );
    for (let c = 0; c < conns; c++) {
      const got = splitReplies(await wires[c]!.replies(expected[c]!.length, 20000));
      const last = got.pop() ?? '';
      assert.deepEqual(got, expected[c]!.slice(0, -1), `connection ${c}, DISTKV_SEED=${seed}`);
      // KEYS lists in no set order: compare sorted.
      const sorted = (t: string): string[] => splitReplies(t.slice(t.indexOf('\r\n') + 2)).sort();
      assert.deepEqual(
        sorted(last),
        sorted(expected[c]!.at(-1)!),
        `KEYS of connection ${c}, DISTKV_SEED=${seed}`,
      );
      wires[c]!.close();
    }
  });
  it('answers a GET pipelined behind a SET with an expiry of its key while another connection reads into the buffer', async () => {
    // The SET (an OP_SET_IF) and the GET go to the worker in order, their keys and value copied
    // into its batch from the read they came in; B's read, sent at the same moment, lands in the
    // same buffer. (The listener used to hold the GET until the SET answered, its key a view of
    // that read: it had to keep its own copy.)
    const [a, b] = await Promise.all([Wire.open(respOf(A)), Wire.open(respOf(A))]);
    const pings = Buffer.concat(Array.from({ length: 3000 }, () => encode(['PING'])));
    for (let round = 0; round < 20; round++) {
      const key = `{held}k${round}`;
      const value = `v${round}`;
      a.socket.write(Buffer.concat([encode(['SET', key, value, 'PX', '600000']), encode(['GET', key])]));
      b.socket.write(pings);
      const got = splitReplies(await a.replies(2, 20000));
      assert.deepEqual(got, ['+OK\r\n', `$${value.length}\r\n${value}\r\n`], `round ${round}`);
      const pongs = splitReplies(await b.replies(3000, 20000));
      assert.equal(pongs.length, 3000);
      assert.ok(pongs.every((r) => r === '+PONG\r\n'));
      // replies() reads from the start of what arrived: start each round afresh
      a.received = Buffer.alloc(0);
      b.received = Buffer.alloc(0);
    }
    a.close();
    b.close();
  });
});
