/**
 * An MGET of large values is answered without copying its values into the connection's writer
 * (src/resp/resp-format.ts, `bulkShared`; docs/resp.md, "Large replies"): the writer holds them by
 * reference and the connection sends its parts in one writev. Copied, a reply of 63 values of
 * 1 MiB grew one buffer to 128 MiB by doubling on the main thread, in one turn: a small GET of any
 * other client of the node waited 0.8-3 s behind it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dispatch } from '../../src/resp/command-dispatch.js';
import { RespWriter, SHARE_BYTES } from '../../src/resp/resp-format.js';
import type { RespConnection } from '../../src/resp/resp-connection.js';
import type { OpHandler } from '../../src/server/worker-pool.js';
import { ST_MISSING, ST_VALUE } from '../../src/worker/op-format.js';
import { oneShardConnection } from '../helpers/fake-resp-connection.js';

const MIB = 1024 * 1024;

/** connection is a RESP connection whose worker answers each GET at once with `value` (undefined: no such key). */
function connection(value: (key: string) => Buffer | undefined): RespConnection {
  const pool = {
    submit(_w: number, _op: number, _s: number, k: Uint8Array, _v: unknown, handler: OpHandler): void {
      const v = value(Buffer.from(k).toString());
      if (v === undefined) handler.onReply(ST_MISSING, 0, Buffer.alloc(0));
      else handler.onReply(ST_VALUE, 0, v);
    },
  };
  return oneShardConnection(pool);
}

/** copiedForm is `values` as an MGET reply written with `bulk` (every value copied). */
function copiedForm(values: (Buffer | undefined)[]): Buffer {
  const w = new RespWriter(2);
  w.array(values.length);
  for (const v of values)
    if (v === undefined) w.nil();
    else w.bulk(v);
  return w.take();
}

describe('RespWriter: an MGET of large values', () => {
  it('answers 63 values of 1 MiB without growing the writer to the reply: the node holds the values once', () => {
    const value = Buffer.alloc(MIB, 0x61);
    const keys = Array.from({ length: 63 }, (_, i) => `{m}k${i}`);
    const c = connection(() => value);
    const before = process.memoryUsage().arrayBuffers;
    dispatch(c, [Buffer.from('MGET'), ...keys.map((k) => Buffer.from(k))]);
    const grew = process.memoryUsage().arrayBuffers - before;
    const out = c.queue.out;
    const expected = 5 + 63 * (`$${MIB}\r\n`.length + MIB + 2);
    assert.equal(out.length, expected, 'the whole reply is ready to send');
    // The Gather keeps one copy of each value (63 MiB); the copied form added a 128 MiB buffer.
    assert.ok(grew < 63 * MIB + 16 * MIB, `the MGET took ${(grew / MIB).toFixed(1)} MiB`);
    assert.ok(out.view().equals(copiedForm(keys.map(() => value))), 'byte-identical to the copied form');
  });

  it('sends each large value as its own part, by reference, with the small ones copied between them', () => {
    const big = Buffer.alloc(SHARE_BYTES, 0x62);
    const bigger = Buffer.alloc(3 * SHARE_BYTES, 0x63);
    const small = Buffer.from('small');
    const values = [big, undefined, small, bigger, Buffer.alloc(SHARE_BYTES - 1, 0x64)];
    const w = new RespWriter(2);
    w.array(values.length);
    for (const v of values)
      if (v === undefined) w.nil();
      else w.bulkShared(v);
    w.simple('PONG');
    const chunks = w.chunks();
    assert.ok(w.shared);
    assert.ok(chunks.includes(big) && chunks.includes(bigger), 'the large values themselves are parts');
    assert.ok(w.copied < SHARE_BYTES * 2, `copied ${w.copied} bytes`);
    const whole = Buffer.concat([copiedForm(values), Buffer.from('+PONG\r\n')]);
    assert.equal(w.length, whole.length);
    assert.ok(Buffer.concat(chunks).equals(whole));
    assert.ok(w.view().equals(whole));
    w.release(false);
    assert.equal(w.length, 0);
    assert.ok(!w.shared);
    assert.deepEqual(w.chunks(), []);
  });

  it('moves a reply written behind the head into the connection writer without copying its values (append)', () => {
    const big = Buffer.alloc(2 * SHARE_BYTES, 0x65);
    const out = new RespWriter(2);
    out.bulk('first');
    const behind = new RespWriter(2, 256);
    behind.array(2);
    behind.bulkShared(big);
    behind.nil();
    out.append(behind);
    out.integer(7);
    assert.equal(behind.length, 0, 'the writer behind is emptied');
    // Written again, the writer behind must not write over the bytes `out` now holds by reference
    // (the array's header, a part of its buffer).
    behind.raw(Buffer.alloc(64, 0x21));
    assert.ok(out.chunks().includes(big));
    const whole = Buffer.concat([
      Buffer.from('$5\r\nfirst\r\n'),
      copiedForm([big, undefined]),
      Buffer.from(':7\r\n'),
    ]);
    assert.ok(out.take().equals(whole));
    assert.equal(out.length, 0);
  });
});
