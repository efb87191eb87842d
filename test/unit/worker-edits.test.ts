/**
 * OP_EDIT on a shard worker (src/worker/edits.ts): edits of one key in one batch chain on each
 * other's writes in flight, keep the key's expiry, refuse a result over their limit without
 * writing, and GETEX writes only when the expiry changes; OP_GET_EXPIRY answers as of its place in
 * the batch.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  EDIT_APPEND,
  EDIT_GETEX,
  EDIT_INCRBYFLOAT,
  EDIT_SETRANGE,
  encodeEdit,
  encodeExt,
  OP_DELETE,
  OP_EDIT,
  OP_GET,
  OP_GET_EXPIRY,
  OP_INCR,
  OP_PUT,
  OP_PUT_EXT,
  ST_DONE,
  ST_ERROR,
  ST_MISSING,
  ST_VALUE,
} from '../../src/worker/op-format.js';
import { decodeOld } from '../../src/worker/read-modify-write.js';
import { tempDir } from '../helpers/temp-dir.js';
import { openTestHost, runOps, untilReplies } from '../helpers/worker-host.js';

const LIMIT = 1024;
const edit = (kind: number, arg: string | Buffer, atMs = 0): Buffer =>
  encodeEdit({ kind, limit: LIMIT, atMs, arg: Buffer.isBuffer(arg) ? arg : Buffer.from(arg) });
const range = (at: number, bytes: string): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(at, 0);
  return Buffer.concat([b, Buffer.from(bytes)]);
};
const ids = (n: number, from = 1): number[] => Array.from({ length: n }, (_, i) => from + i);

describe('OP_EDIT on a shard worker', () => {
  it('chains 100 APPENDs of one key in one batch: lengths 1..100, nothing lost', async () => {
    const { host, replies } = await openTestHost(tempDir(after));
    after(() => host.close());
    runOps(host, (w) => {
      for (const id of ids(100)) w.add(id, OP_EDIT, 0, 'k', edit(EDIT_APPEND, String(id % 10)));
      w.add(101, OP_GET, 0, 'k', undefined);
    });
    await untilReplies(replies, ids(101));
    assert.deepEqual(
      ids(100).map((id) => replies.get(id)!.value.toString()),
      ids(100).map(String),
    );
    assert.equal(
      replies.get(101)!.value.toString(),
      ids(100)
        .map((id) => id % 10)
        .join(''),
    );
  });

  it("keeps the expiry of the key's newest write, in flight or durable, through APPEND, SETRANGE, INCRBYFLOAT and INCR", async () => {
    const { host, replies } = await openTestHost(tempDir(after));
    after(() => host.close());
    const at = Date.now() + 3_600_000;
    runOps(host, (w) => {
      w.add(1, OP_PUT_EXT, 0, 'k', encodeExt({ flags: 0, ifSeq: 0, expiresAtMs: at }, '1'));
      w.add(2, OP_EDIT, 0, 'k', edit(EDIT_APPEND, '2'));
      w.add(3, OP_EDIT, 0, 'k', edit(EDIT_SETRANGE, range(0, '3')));
      w.add(4, OP_EDIT, 0, 'k', edit(EDIT_INCRBYFLOAT, '0.5'));
      w.add(5, OP_GET_EXPIRY, 0, 'k', undefined);
      w.add(6, OP_PUT, 0, 'n', '1');
    });
    await untilReplies(replies, ids(6));
    assert.equal(replies.get(4)!.value.toString(), '32.5');
    assert.equal(replies.get(5)!.value.readDoubleLE(0), at);
    runOps(host, (w) => {
      w.add(7, OP_PUT_EXT, 0, 'n', encodeExt({ flags: 0, ifSeq: 0, expiresAtMs: at }, '1'));
    });
    await untilReplies(replies, [7]);
    runOps(host, (w) => {
      w.add(8, OP_INCR, 0, 'n', '1');
      w.add(9, OP_GET_EXPIRY, 0, 'n', undefined);
    });
    await untilReplies(replies, [8, 9]);
    assert.equal(replies.get(9)!.value.readDoubleLE(0), at, 'INCR keeps the expiry');
  });

  it('refuses an APPEND or SETRANGE over its limit with VALUE_TOO_LARGE and writes nothing', async () => {
    const { host, replies } = await openTestHost(tempDir(after));
    after(() => host.close());
    runOps(host, (w) => {
      w.add(1, OP_PUT, 0, 'k', Buffer.alloc(1000, 'a'));
      w.add(2, OP_EDIT, 0, 'k', edit(EDIT_APPEND, Buffer.alloc(25, 'b')));
      w.add(3, OP_EDIT, 0, 'k', edit(EDIT_SETRANGE, range(1000, 'x'.repeat(25))));
      w.add(4, OP_EDIT, 0, 'k', edit(EDIT_APPEND, Buffer.alloc(24, 'b')));
      w.add(5, OP_GET, 0, 'k', undefined);
    });
    await untilReplies(replies, ids(5));
    for (const id of [2, 3]) {
      assert.equal(replies.get(id)!.status, ST_ERROR);
      assert.match(replies.get(id)!.value.toString(), /VALUE_TOO_LARGE.*value is 1025 bytes; limit is 1024/);
    }
    assert.equal(replies.get(4)!.value.toString(), '1024');
    assert.equal(replies.get(5)!.value.length, 1024);
  });

  it('GETEX answers the old value; it deletes at a time past and writes nothing for PERSIST of a key without expiry', async () => {
    const { host, replies } = await openTestHost(tempDir(after));
    after(() => host.close());
    runOps(host, (w) => {
      w.add(1, OP_PUT, 0, 'k', 'v');
      w.add(2, OP_PUT, 0, 'gone', 'w');
    });
    await untilReplies(replies, [1, 2]);
    runOps(host, (w) => {
      w.add(3, OP_EDIT, 0, 'k', edit(EDIT_GETEX, '', 0));
      w.add(4, OP_GET, 0, 'k', undefined);
      w.add(5, OP_EDIT, 0, 'gone', edit(EDIT_GETEX, '', 1));
      w.add(6, OP_GET, 0, 'gone', undefined);
      w.add(7, OP_EDIT, 0, 'missing', edit(EDIT_GETEX, '', Date.now() + 60_000));
    });
    await untilReplies(replies, ids(5, 3));
    assert.equal(decodeOld(replies.get(3)!.value)?.toString(), 'v');
    assert.equal(
      replies.get(4)!.seq,
      replies.get(1)!.seq,
      'PERSIST of a key without expiry wrote no new version',
    );
    assert.equal(decodeOld(replies.get(5)!.value)?.toString(), 'w');
    assert.equal(replies.get(6)!.status, ST_MISSING);
    assert.equal(replies.get(7)!.status, ST_DONE);
    assert.equal(decodeOld(replies.get(7)!.value), undefined);
  });

  it('answers OP_GET_EXPIRY between a write and a DELETE of its key in one batch with that write, not the DELETE', async () => {
    const { host, replies } = await openTestHost(tempDir(after));
    after(() => host.close());
    const at = Date.now() + 3_600_000;
    runOps(host, (w) => {
      w.add(1, OP_PUT_EXT, 0, 'k', encodeExt({ flags: 0, ifSeq: 0, expiresAtMs: at }, 'v'));
      w.add(2, OP_GET_EXPIRY, 0, 'k', undefined);
      w.add(3, OP_DELETE, 0, 'k', undefined);
      w.add(4, OP_GET_EXPIRY, 0, 'k', undefined);
    });
    await untilReplies(replies, ids(4));
    assert.equal(replies.get(2)!.status, ST_VALUE);
    assert.equal(replies.get(2)!.value.readDoubleLE(0), at);
    assert.equal(replies.get(4)!.status, ST_MISSING);
  });
});
