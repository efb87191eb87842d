/**
 * An MGET keeps a copy of each value (src/resp/gather.ts): the value an OpHandler is given is a
 * view valid only during the call (src/server/worker-link.ts), and a host may write the buffer
 * under it again for its next reply. A Gather that kept the view would answer a later key's
 * bytes in place of an earlier key's. This worker answers every GET from one buffer, written anew
 * for each reply, and every byte of the answer is checked.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dispatch } from '../../src/resp/command-dispatch.js';
import { RespWriter, SHARE_BYTES } from '../../src/resp/resp-format.js';
import type { OpHandler } from '../../src/server/worker-pool.js';
import { REPLY_HEADER_BYTES, ST_VALUE } from '../../src/worker/op-format.js';
import { oneShardConnection } from '../helpers/fake-resp-connection.js';

const MIB = 1024 * 1024;
/** AT is where a reply batch's first value starts: its version byte, then the reply's header. */
const AT = 1 + REPLY_HEADER_BYTES;

/** valueOf is key `{m}k<i>`'s value: `size` bytes of i + 1. */
function valueOf(key: string, size: number): Buffer {
  return Buffer.alloc(size, Number(/k(\d+)$/.exec(key)![1]) + 1);
}

describe('Gather: the values an MGET keeps', () => {
  for (const size of [1, SHARE_BYTES - 1, SHARE_BYTES, MIB]) {
    it(`answers each key its own value of ${size} bytes when the reply buffer is written again for the next reply`, () => {
      const batch = Buffer.alloc(AT + size);
      const pool = {
        submit(_w: number, _op: number, _s: number, k: Uint8Array, _v: unknown, handler: OpHandler): void {
          valueOf(Buffer.from(k).toString(), size).copy(batch, AT);
          handler.onReply(ST_VALUE, 0, batch.subarray(AT));
        },
      };
      const c = oneShardConnection(pool);
      const keys = Array.from({ length: 8 }, (_, i) => `{m}k${i}`);
      dispatch(c, [Buffer.from('MGET'), ...keys.map((k) => Buffer.from(k))]);
      const w = new RespWriter(2);
      w.array(keys.length);
      for (const k of keys) w.bulk(valueOf(k, size));
      assert.ok(c.queue.out.view().equals(w.take()), "every byte of the reply is the keys' own");
      assert.ok(
        c.queue.out.chunks().every((ch) => ch.buffer !== batch.buffer),
        'no part of the reply is the reused buffer',
      );
    });
  }
});
