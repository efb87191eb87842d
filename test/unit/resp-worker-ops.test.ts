import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  COUNTED_FOUND_ONLY,
  OP_DELETE,
  OP_DELETE_COUNTED,
  OP_GET,
  OP_INCR,
  OP_PUT,
  OP_SET_IF,
  SET_IF_NX,
  ST_DONE,
  ST_ERROR,
  ST_MISSING,
  ST_VALUE,
} from '../../src/worker/op-format.js';
import { decodeOld } from '../../src/worker/read-modify-write.js';
import { tempDir } from '../helpers/temp-dir.js';
import { openTestHost, runOps, untilReplies } from '../helpers/worker-host.js';

describe('worker ops for RESP (one batch, LSM store, fsync)', () => {
  it('never answers a read with a write that is not durable yet: the GET waits for the PUT before it', async () => {
    const { host, replies } = await openTestHost(tempDir(after));
    after(() => host.close());
    runOps(host, (w) => {
      w.add(1, OP_PUT, 0, 'k', 'v');
      w.add(2, OP_GET, 0, 'k', undefined);
      w.add(3, OP_GET, 0, 'other', undefined);
    });
    await untilReplies(replies, [1, 2, 3]);
    const order = [...replies.keys()];
    // A GET answered from the write still in its group commit would arrive before the PUT's reply
    // (a failed fsync would then take back a value a reader had seen).
    assert.ok(order.indexOf(1) < order.indexOf(2), `reply order ${order.join(',')}`);
    assert.equal(replies.get(2)?.value.toString(), 'v');
    assert.equal(replies.get(3)?.status, ST_MISSING);
  });

  it('answers a GET between two PUTs of its key in one batch with the first: never a later write', async () => {
    const { host, replies } = await openTestHost(tempDir(after));
    after(() => host.close());
    runOps(host, (w) => {
      w.add(1, OP_PUT, 0, 'k', 'first');
      w.add(2, OP_GET, 0, 'k', undefined);
      w.add(3, OP_PUT, 0, 'k', 'second');
      w.add(4, OP_DELETE, 0, 'k', undefined);
      w.add(5, OP_GET, 0, 'k', undefined);
      w.add(6, OP_PUT, 0, 'k', 'third');
    });
    await untilReplies(replies, [1, 2, 3, 4, 5, 6]);
    // The group commit makes all three writes visible at once; the GETs answer what was newest
    // when they were issued.
    assert.equal(replies.get(2)?.value.toString(), 'first');
    assert.equal(replies.get(5)?.status, ST_MISSING);
  });

  it('answers a GET with the value a PUT earlier in the same batch wrote (pipelined SET then GET)', async () => {
    const { host, replies } = await openTestHost(tempDir(after));
    after(() => host.close());
    runOps(host, (w) => {
      w.add(1, OP_PUT, 0, 'k', 'new');
      w.add(2, OP_GET, 0, 'k', undefined);
    });
    await untilReplies(replies, [1, 2]);
    assert.equal(replies.get(2)!.status, ST_VALUE);
    assert.equal(replies.get(2)!.value.toString(), 'new');
  });

  it('applies 100 INCRs of one key in one batch atomically: replies 1..100, final value 100', async () => {
    const { host, replies } = await openTestHost(tempDir(after));
    after(() => host.close());
    const ids = Array.from({ length: 100 }, (_, i) => i + 1);
    runOps(host, (w) => {
      for (const id of ids) w.add(id, OP_INCR, 0, 'counter', '1');
    });
    await untilReplies(replies, ids);
    assert.deepEqual(
      ids.map((id) => replies.get(id)!.value.toString()),
      ids.map(String),
    );
    assert.ok(ids.every((id) => replies.get(id)!.status === ST_DONE));
    runOps(host, (w) => {
      w.add(1000, OP_INCR, 0, 'counter', '-200');
    });
    await untilReplies(replies, [1000]);
    assert.equal(replies.get(1000)!.value.toString(), '-100');
  });

  it('refuses INCR of a non-integer and an overflowing INCR with Redis messages, writing nothing', async () => {
    const { host, replies } = await openTestHost(tempDir(after));
    after(() => host.close());
    runOps(host, (w) => {
      w.add(1, OP_PUT, 0, 'text', 'abc');
      w.add(2, OP_INCR, 0, 'text', '1');
      w.add(3, OP_PUT, 0, 'big', '9223372036854775807');
      w.add(4, OP_INCR, 0, 'big', '1');
      w.add(5, OP_INCR, 0, 'fresh', '01');
      w.add(6, OP_GET, 0, 'big', undefined);
    });
    await untilReplies(replies, [1, 2, 3, 4, 5, 6]);
    assert.equal(replies.get(2)!.status, ST_ERROR);
    assert.match(replies.get(2)!.value.toString(), /value is not an integer or out of range/);
    assert.match(replies.get(4)!.value.toString(), /increment or decrement would overflow/);
    assert.match(replies.get(5)!.value.toString(), /not an integer/);
    assert.equal(replies.get(6)!.value.toString(), '9223372036854775807');
  });

  it('lets exactly one of two SET NX of one key in one batch win, and reports the old value', async () => {
    const { host, replies } = await openTestHost(tempDir(after));
    after(() => host.close());
    runOps(host, (w) => {
      w.add(1, OP_SET_IF, 0, 'lock', Buffer.concat([Buffer.of(SET_IF_NX), Buffer.from('a')]));
      w.add(2, OP_SET_IF, 0, 'lock', Buffer.concat([Buffer.of(SET_IF_NX), Buffer.from('b')]));
      w.add(3, OP_GET, 0, 'lock', undefined);
    });
    await untilReplies(replies, [1, 2, 3]);
    assert.equal(replies.get(1)!.status, ST_DONE);
    assert.equal(decodeOld(replies.get(1)!.value), undefined);
    assert.equal(replies.get(2)!.status, ST_MISSING);
    assert.equal(Buffer.from(decodeOld(replies.get(2)!.value)!).toString(), 'a');
    assert.equal(replies.get(3)!.value.toString(), 'a');
  });

  it('reports whether a deleted key existed, counting a delete earlier in the batch', async () => {
    const { host, replies } = await openTestHost(tempDir(after));
    after(() => host.close());
    runOps(host, (w) => {
      w.add(1, OP_PUT, 0, 'd', 'v');
      w.add(2, OP_DELETE_COUNTED, 0, 'd', undefined);
      w.add(3, OP_DELETE_COUNTED, 0, 'd', undefined);
      w.add(4, OP_GET, 0, 'd', undefined);
    });
    await untilReplies(replies, [1, 2, 3, 4]);
    assert.equal(Buffer.from(decodeOld(replies.get(2)!.value)!).toString(), 'v');
    assert.equal(decodeOld(replies.get(3)!.value), undefined);
    assert.equal(replies.get(4)!.status, ST_MISSING);
  });

  it('answers a counted delete that asks only whether the key was there without its old value (DEL)', async () => {
    const { host, replies } = await openTestHost(tempDir(after));
    after(() => host.close());
    runOps(host, (w) => {
      w.add(1, OP_PUT, 0, 'd', 'x'.repeat(1000));
      w.add(2, OP_DELETE_COUNTED, 0, 'd', COUNTED_FOUND_ONLY);
      w.add(3, OP_DELETE_COUNTED, 0, 'd', COUNTED_FOUND_ONLY);
      w.add(4, OP_GET, 0, 'd', undefined);
    });
    await untilReplies(replies, [1, 2, 3, 4]);
    assert.deepEqual([...replies.get(2)!.value], [1], 'found, and no value');
    assert.deepEqual([...replies.get(3)!.value], [0], 'missing');
    assert.equal(replies.get(4)!.status, ST_MISSING);
  });
});
