/**
 * An MGET's large values go to the socket by reference, as parts of one writev
 * (src/resp/resp-format.ts, `bulkShared`; docs/resp.md, "Large replies"): the client still gets
 * the reply byte for byte as a copied one, in command order with the replies pipelined around it,
 * when it reads late (the writev is then queued, not taken at once) and in RESP3.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freeNodeAddress, respOf } from '../helpers/resp.js';
import { startOwnServer } from '../helpers/server-process.js';
import { encode, Wire } from './resp-wire.js';

const KIB = 1024;
const MIB = 1024 * KIB;
let A = '';
let stop = (): Promise<void> => Promise.resolve();

/** value is a value of `n` bytes whose content depends on `seed` (each value differs). */
function value(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

// Large (past the 64 KiB shared bound) and small values, and a key never set.
const values = new Map<string, Buffer>([
  ['{m}a', value(MIB, 1)],
  ['{m}b', value(10, 2)],
  ['{m}c', value(64 * KIB, 3)],
  ['{m}d', value(64 * KIB - 1, 4)],
  ['{m}e', value(700 * KIB, 5)],
]);
const keys = ['{m}a', '{m}b', '{m}missing', '{m}c', '{m}d', '{m}e', '{m}a'];

before(async () => {
  A = await freeNodeAddress();
  const own = await startOwnServer([{ address: A, replicas: [] }], `[server]\nmax_value_bytes = ${MIB}\n`, [
    '--workers',
    '2',
  ]);
  stop = own.stop;
  const w = await Wire.open(respOf(A));
  try {
    for (const [k, v] of values) w.socket.write(encode(['SET', k, v]));
    assert.equal(await w.replies(values.size), '+OK\r\n'.repeat(values.size));
  } finally {
    w.close();
  }
});

after(() => stop());

/** mgetReply is the MGET reply of `keys` as Redis writes it (`nil`: how a missing key reads). */
function mgetReply(nil: string): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${keys.length}\r\n`)];
  for (const k of keys) {
    const v = values.get(k);
    if (v === undefined) parts.push(Buffer.from(nil));
    else parts.push(Buffer.from(`$${v.length}\r\n`), v, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

describe('MGET of large values over a socket', () => {
  it('answers byte for byte, in order among pipelined commands, to a client that reads late', async () => {
    const w = await Wire.open(respOf(A));
    try {
      w.socket.pause();
      w.socket.write(
        Buffer.concat([
          encode(['GET', '{other}x']),
          encode(['MGET', ...keys]),
          encode(['PING']),
          encode(['MGET', ...keys]),
          encode(['GET', '{m}b']),
        ]),
      );
      await new Promise((r) => setTimeout(r, 500));
      w.socket.resume();
      await w.replies(5);
      const expected = Buffer.concat([
        Buffer.from('$-1\r\n'),
        mgetReply('$-1\r\n'),
        Buffer.from('+PONG\r\n'),
        mgetReply('$-1\r\n'),
        Buffer.from(`$10\r\n`),
        values.get('{m}b')!,
        Buffer.from('\r\n'),
      ]);
      assert.equal(w.received.length, expected.length);
      assert.ok(w.received.equals(expected), 'the replies are the copied form, in command order');
    } finally {
      w.close();
    }
  });

  it('answers RESP3 the same, with its null', async () => {
    const w = await Wire.open(respOf(A));
    try {
      w.socket.write(encode(['HELLO', '3']));
      await w.replies(1);
      w.received = Buffer.alloc(0);
      w.socket.write(encode(['MGET', ...keys]));
      await w.replies(1);
      assert.ok(w.received.equals(mgetReply('_\r\n')));
    } finally {
      w.close();
    }
  });
});
