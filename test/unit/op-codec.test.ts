import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReplyReader, ReplyWriter, RequestReader, RequestWriter } from '../../src/worker/op-codec.js';
import { OP_DELETE, OP_GET, OP_PUT, ST_DONE, ST_ERROR, ST_VALUE } from '../../src/worker/op-format.js';

describe('op batch format', () => {
  it('round-trips requests with UTF-8 keys, string and binary values, growing past the initial buffer', () => {
    const w = new RequestWriter();
    const big = Buffer.alloc(200_000, 7);
    w.add(1, OP_GET, 3, 'clé', undefined);
    w.add(2, OP_PUT, 65535, 'k', 'välue');
    w.add(0xffffffff, OP_PUT, 0, 'big', big);
    w.add(4, OP_DELETE, 1, '😀', undefined);
    assert.equal(w.count, 4);
    const { buffer, length } = w.take();
    assert.equal(w.count, 0, 'take() resets the writer');
    const r = new RequestReader(buffer, length);
    const seen: [number, number, number, string, number][] = [];
    while (r.next()) seen.push([r.id, r.op, r.store, r.key.toString('utf8'), r.value.length]);
    assert.deepEqual(seen, [
      [1, OP_GET, 3, 'clé', 0],
      [2, OP_PUT, 65535, 'k', Buffer.byteLength('välue')],
      [0xffffffff, OP_PUT, 0, 'big', big.length],
      [4, OP_DELETE, 1, '😀', 0],
    ]);
  });

  it('writes a byte key as its bytes, even when they are not UTF-8', () => {
    const w = new RequestWriter();
    const key = Buffer.from([0xff, 0x00, 0xc3, 0x28]);
    w.add(1, OP_PUT, 2, key, 'v');
    const { buffer, length } = w.take();
    const r = new RequestReader(buffer, length);
    assert.ok(r.next());
    assert.deepEqual(Buffer.from(r.key), key);
    assert.equal(r.value.toString(), 'v');
    assert.equal(r.next(), false);
  });

  it('round-trips replies with seqs and values', () => {
    const w = new ReplyWriter();
    w.add(9, ST_VALUE, 0, Buffer.from('hello'));
    w.add(10, ST_DONE, 2 ** 40 + 3, undefined);
    w.add(11, ST_ERROR, 0, Buffer.from('{"code":"INTERNAL","message":"x"}'));
    const { buffer, length } = w.take();
    const r = new ReplyReader(buffer, length);
    const seen: [number, number, number, string][] = [];
    while (r.next()) seen.push([r.id, r.status, r.seq, r.value.toString()]);
    assert.deepEqual(seen, [
      [9, ST_VALUE, 0, 'hello'],
      [10, ST_DONE, 2 ** 40 + 3, ''],
      [11, ST_ERROR, 0, '{"code":"INTERNAL","message":"x"}'],
    ]);
  });

  it('refuses a batch with an unknown version byte', () => {
    const buf = new ArrayBuffer(8);
    new Uint8Array(buf)[0] = 99;
    assert.throws(() => new RequestReader(buf, 8), /version 99/);
    assert.throws(() => new ReplyReader(buf, 8), /version 99/);
  });
});
