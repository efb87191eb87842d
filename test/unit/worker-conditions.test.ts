/**
 * Conditional writes on the shard worker (OP_PUT_EXT / OP_DELETE_EXT): checked atomically against
 * the newest write, including one still in the group commit, and answered ST_CONFLICT with the
 * current version seq when the condition does not hold.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import {
  COND_IF_EXISTS,
  COND_IF_MATCH,
  COND_IF_NONE_MATCH,
  encodeExt,
  encodeTxn,
  EXT_KEEP_TTL,
  EXT_KEEP_VALUE,
  OP_DELETE_EXT,
  OP_GET,
  OP_GET_EXPIRY,
  OP_TXN,
  OP_PUT,
  OP_PUT_EXT,
  ST_CONFLICT,
  ST_DONE,
  ST_MISSING,
  ST_VALUE,
  type TxnSub,
} from '../../src/worker/op-format.js';
import { tempDir } from '../helpers/temp-dir.js';
import { openTestHost, runOps, untilReplies } from '../helpers/worker-host.js';

const ifMatch = (seq: number, value?: string): Buffer =>
  encodeExt({ flags: COND_IF_MATCH, ifSeq: seq, expiresAtMs: 0 }, value);
const ifNone = (value: string): Buffer =>
  encodeExt({ flags: COND_IF_NONE_MATCH, ifSeq: 0, expiresAtMs: 0 }, value);

describe('conditional writes on the worker (one batch, LSM store, fsync)', () => {
  it('checks If-Match against a write still in group commit: the stale one conflicts with its seq', async () => {
    const { host, replies } = await openTestHost(tempDir(after));
    after(() => host.close());
    runOps(host, (w) => {
      w.add(1, OP_PUT, 0, 'k', 'v1');
    });
    await untilReplies(replies, [1]);
    const v1 = replies.get(1)!.seq;
    runOps(host, (w) => {
      w.add(2, OP_PUT_EXT, 0, 'k', ifMatch(v1, 'v2'));
      w.add(3, OP_PUT_EXT, 0, 'k', ifMatch(v1, 'v3'));
      w.add(4, OP_GET, 0, 'k', undefined);
    });
    await untilReplies(replies, [2, 3, 4]);
    assert.equal(replies.get(2)!.status, ST_DONE);
    assert.equal(replies.get(3)!.status, ST_CONFLICT, 'the second CAS saw the first one');
    assert.equal(replies.get(3)!.seq, replies.get(2)!.seq, 'and reports its version');
    assert.equal(replies.get(4)!.status, ST_VALUE);
    assert.equal(replies.get(4)!.value.toString(), 'v2');
    assert.equal(replies.get(4)!.seq, replies.get(2)!.seq, 'a read reports the version');
  });

  it('creates once with If-None-Match among creators in one batch, and deletes only at the version', async () => {
    const { host, replies } = await openTestHost(tempDir(after));
    after(() => host.close());
    runOps(host, (w) => {
      for (let i = 1; i <= 5; i++) w.add(i, OP_PUT_EXT, 0, 'new', ifNone(`by-${i}`));
    });
    await untilReplies(replies, [1, 2, 3, 4, 5]);
    const statuses = [1, 2, 3, 4, 5].map((i) => replies.get(i)!.status);
    assert.deepEqual(statuses, [ST_DONE, ST_CONFLICT, ST_CONFLICT, ST_CONFLICT, ST_CONFLICT]);
    const v = replies.get(1)!.seq;
    runOps(host, (w) => {
      w.add(6, OP_DELETE_EXT, 0, 'new', ifMatch(v + 100));
      w.add(7, OP_DELETE_EXT, 0, 'new', ifMatch(v));
      w.add(8, OP_PUT_EXT, 0, 'new', encodeExt({ flags: COND_IF_EXISTS, ifSeq: 0, expiresAtMs: 0 }, 'x'));
      w.add(9, OP_GET, 0, 'new', undefined);
    });
    await untilReplies(replies, [6, 7, 8, 9]);
    assert.equal(replies.get(6)!.status, ST_CONFLICT);
    assert.equal(replies.get(6)!.seq, v);
    assert.equal(replies.get(7)!.status, ST_DONE);
    assert.equal(replies.get(8)!.status, ST_CONFLICT, 'If-Match: * after the delete');
    assert.equal(replies.get(8)!.seq, 0, 'a missing key has no version');
    assert.equal(replies.get(9)!.status, ST_MISSING);
  });

  it('keeps the TTL or the value in a transaction as a single conditional write does', async () => {
    const { host, replies } = await openTestHost(tempDir(after));
    after(() => host.close());
    const first = Date.now() + 600_000;
    const later = first + 60_000;
    runOps(host, (w) => {
      w.add(1, OP_PUT_EXT, 0, 'ttl', encodeExt({ flags: 0, ifSeq: 0, expiresAtMs: first }, 'a'));
      w.add(2, OP_PUT, 0, 'value', 'kept');
    });
    await untilReplies(replies, [1, 2]);
    const sub = (key: string, flags: number, expiresAtMs: number, value?: string): TxnSub => ({
      op: OP_PUT_EXT,
      key: Buffer.from(key),
      value: encodeExt({ flags, ifSeq: 0, expiresAtMs }, value),
    });
    runOps(host, (w) => {
      w.add(
        3,
        OP_TXN,
        0,
        '',
        encodeTxn([
          sub('ttl', COND_IF_EXISTS | EXT_KEEP_TTL, 0, 'b'),
          sub('value', COND_IF_EXISTS | EXT_KEEP_VALUE, later),
        ]),
      );
      w.add(4, OP_GET, 0, 'ttl', undefined);
      w.add(5, OP_GET_EXPIRY, 0, 'ttl', undefined);
      w.add(6, OP_GET, 0, 'value', undefined);
      w.add(7, OP_GET_EXPIRY, 0, 'value', undefined);
    });
    await untilReplies(replies, [3, 4, 5, 6, 7]);
    assert.equal(replies.get(3)!.status, ST_DONE);
    assert.equal(replies.get(4)!.value.toString(), 'b');
    assert.equal(replies.get(5)!.value.readDoubleLE(0), first, 'KEEPTTL kept the expiry');
    assert.equal(replies.get(6)!.value.toString(), 'kept', 'keep-value kept the value');
    assert.equal(replies.get(7)!.value.readDoubleLE(0), later);
  });
});
