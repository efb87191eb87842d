/**
 * What an MGET keeps of each value (src/resp/gather.ts, "Views"): a view of the reply batch when
 * the batch is owned (a worker thread's, cloned for the main thread and never written again) and the
 * value is most of it, a copy otherwise. A view of a buffer written again for the next reply would
 * answer that reply's bytes in place of the key's: these tests answer every GET from one buffer
 * written anew for each reply, as an inline host may, and check every byte of the answer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dispatch } from '../../src/resp/command-table.js';
import { RespWriter, SHARE_BYTES } from '../../src/resp/resp-format.js';
import type { RespConnection } from '../../src/resp/resp-connection.js';
import type { OpHandler } from '../../src/server/worker-pool.js';
import { REPLY_HEADER_BYTES, ST_VALUE } from '../../src/worker/op-format.js';
import { oneShardConnection } from '../helpers/fake-resp-connection.js';

const MIB = 1024 * 1024;
/** AT is where a batch's first value starts: its version byte, then the reply's header. */
const AT = 1 + REPLY_HEADER_BYTES;

/** valueOf is key `{m}k<i>`'s value: `size` bytes of i + 1. */
function valueOf(key: string, size: number): Buffer {
  return Buffer.alloc(size, Number(/k(\d+)$/.exec(key)![1]) + 1);
}

/** Batches is a stand-in pool that answers each GET at once from a reply batch `batchOf` gives it. */
interface Batches {
  /** batchOf returns the ArrayBuffer that the reply to GET number `n` lies in. */
  batchOf(n: number, bytes: number): ArrayBuffer;
  owned: boolean;
}

/** connection answers every GET with valueOf(key, size), a view at AT of the batch `b.batchOf` returns. */
function connection(b: Batches, size: number, seen: ArrayBuffer[]): RespConnection {
  let n = 0;
  const pool = {
    submit(_w: number, _op: number, _s: number, k: Uint8Array, _v: unknown, handler: OpHandler): void {
      const ab = b.batchOf(n++, AT + size);
      const view = Buffer.from(ab, AT, size);
      valueOf(Buffer.from(k).toString(), size).copy(view);
      seen.push(ab);
      handler.onReply(ST_VALUE, 0, view, b.owned);
    },
  };
  return oneShardConnection(pool);
}

/** mget answers MGET of `keys` on `c` and returns its writer (its reply written at the head). */
function mget(c: RespConnection, keys: string[]): RespWriter {
  dispatch(c, [Buffer.from('MGET'), ...keys.map((k) => Buffer.from(k))]);
  return c.queue.out;
}

/** expected is the MGET reply of `keys`, every value copied. */
function expected(keys: string[], size: number): Buffer {
  const w = new RespWriter(2);
  w.array(keys.length);
  for (const k of keys) w.bulk(valueOf(k, size));
  return w.take();
}

const keysOf = (n: number): string[] => Array.from({ length: n }, (_, i) => `{m}k${i}`);

describe('Gather: the values an MGET keeps', () => {
  it('keeps an owned value of 1 MiB as a view of its reply batch, not a copy', () => {
    const keys = keysOf(8);
    const seen: ArrayBuffer[] = [];
    const c = connection({ batchOf: (_n, bytes) => new ArrayBuffer(bytes), owned: true }, MIB, seen);
    const out = mget(c, keys);
    const chunks = out.chunks();
    for (const [i, ab] of seen.entries())
      assert.ok(
        chunks.some((ch) => ch.buffer === ab && ch.byteOffset === AT),
        `value ${i} is sent from its reply batch's own buffer`,
      );
    assert.ok(out.view().equals(expected(keys, MIB)), 'every byte of the reply is the keys');
  });

  it('copies a value whose batch is not owned: one buffer written again for every reply answers each key its own bytes', () => {
    for (const size of [SHARE_BYTES, MIB]) {
      const keys = keysOf(8);
      let batch: ArrayBuffer | undefined;
      const reused = (_n: number, bytes: number): ArrayBuffer => (batch ??= new ArrayBuffer(bytes));
      const c = connection({ batchOf: reused, owned: false }, size, []);
      const out = mget(c, keys);
      assert.ok(out.view().equals(expected(keys, size)), `values of ${size} bytes: each key's own`);
      assert.ok(
        out.chunks().every((ch) => ch.buffer !== batch),
        `no part of the reply of values of ${size} bytes is the reused buffer`,
      );
    }
  });

  it('copies an owned value under SHARE_BYTES, and one whose batch holds more than SHARE_BYTES besides it', () => {
    const cases = [
      { size: SHARE_BYTES - 1, slack: 0, why: 'a value under SHARE_BYTES' },
      { size: 4 * SHARE_BYTES, slack: SHARE_BYTES + 1, why: 'a batch holding SHARE_BYTES + 1 more' },
    ];
    for (const { size, slack, why } of cases) {
      const keys = keysOf(4);
      const seen: ArrayBuffer[] = [];
      const c = connection(
        { batchOf: (_n, bytes) => new ArrayBuffer(bytes + slack), owned: true },
        size,
        seen,
      );
      const out = mget(c, keys);
      const chunks = out.chunks();
      assert.ok(
        seen.every((ab) => chunks.every((ch) => ch.buffer !== ab)),
        `${why}: no part of the reply keeps the batch alive`,
      );
      assert.ok(out.view().equals(expected(keys, size)), `${why}: each key's own bytes`);
    }
  });

  it('keeps an owned value in a batch of exactly SHARE_BYTES besides it as a view', () => {
    const keys = keysOf(2);
    const seen: ArrayBuffer[] = [];
    const size = 2 * SHARE_BYTES;
    const c = connection(
      { batchOf: (_n, bytes) => new ArrayBuffer(bytes - AT + SHARE_BYTES), owned: true },
      size,
      seen,
    );
    const out = mget(c, keys);
    const chunks = out.chunks();
    assert.ok(seen.every((ab) => chunks.some((ch) => ch.buffer === ab)));
    assert.ok(out.view().equals(expected(keys, size)));
  });
});
