/**
 * The RESP listener reads every connection into one buffer (src/server/shared-read.ts), which the
 * next read of any connection overwrites, while the parser hands out views that commands keep.
 * Connections write pipelined SET / GET / KEYS commands in random pieces, interleaved, with pauses
 * so the server reads them separately; every reply must carry exactly that connection's bytes.
 * Seeded (DISTKV_SEED replays one schedule).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom, testSeed } from '../helpers/random.js';
import { respOf } from '../helpers/resp.js';
import { encode, splitReplies, startRespPair, Wire } from './resp-wire.js';

let A = '';
let stop = (): Promise<void> => Promise.resolve();

before(async () => {
  ({ A, stop } = await startRespPair());
});

after(() => stop());

/** valueOf returns `n` bytes that differ per connection and position, so a byte from elsewhere shows. */
const valueOf = (tag: string, n: number): string => {
  let s = '';
  while (s.length < n) s += `${tag}:${s.length};`;
  return s.slice(0, n);
};

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
        const value = valueOf(`${c}.${i}`, Math.floor(rnd() * 5000));
        parts.push(encode(['SET', key, value]), encode(['GET', key]));
        want.push('+OK\r\n', `$${value.length}\r\n${value}\r\n`);
      }
      // KEYS runs after the replies before it: its pattern is used after later reads arrived.
      parts.push(encode(['KEYS', `{sr${seed}c${c}}k1?`]));
      const listed = Array.from({ length: 10 }, (_, j) => `{sr${seed}c${c}}k${10 + j}`);
      want.push(`*10\r\n${listed.map((k) => `$${k.length}\r\n${k}\r\n`).join('')}`);
      streams.push(Buffer.concat(parts));
      expected.push(want);
    }
    const offsets = streams.map(() => 0);
    for (let step = 0; step < 3000 && offsets.some((o, c) => o < streams[c]!.length); step++) {
      const c = Math.floor(rnd() * conns);
      const s = streams[c]!;
      if (offsets[c]! >= s.length) continue;
      const n = 1 + Math.floor(rnd() * 700);
      wires[c]!.socket.write(s.subarray(offsets[c], offsets[c]! + n));
      offsets[c]! += n;
      if (rnd() < 0.3) await sleep(1);
    }
    for (let c = 0; c < conns; c++) wires[c]!.socket.write(streams[c]!.subarray(offsets[c]));
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
});
