import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReplyQueue } from '../../src/resp/reply-queue.js';
import type { RespWriter } from '../../src/resp/resp-format.js';
import { ST_MISSING, ST_VALUE } from '../../src/worker/op-format.js';

const formatGet = (w: RespWriter, status: number, _seq: number, value: Buffer): void => {
  if (status === ST_VALUE) w.bulk(value);
  else w.nil();
};

describe('ReplyQueue', () => {
  it('writes replies in command order when workers answer out of order', () => {
    const q = new ReplyQueue(
      () => undefined,
      () => undefined,
    );
    const a = q.later(2, formatGet);
    const b = q.later(2, formatGet);
    q.now(2).simple('PONG');
    const c = q.later(2, formatGet);
    c.onReply(ST_VALUE, 0, Buffer.from('c'));
    b.onReply(ST_MISSING, 0, Buffer.alloc(0));
    assert.equal(q.out.length, 0, 'nothing is written while the first reply is outstanding');
    a.onReply(ST_VALUE, 0, Buffer.from('a'));
    assert.equal(q.out.take().toString(), '$1\r\na\r\n$-1\r\n+PONG\r\n$1\r\nc\r\n');
    assert.equal(q.depth, 0);
  });

  it('copies a value out of a worker reply that completes behind an outstanding one', () => {
    const q = new ReplyQueue(
      () => undefined,
      () => undefined,
    );
    const first = q.later(3, formatGet);
    const second = q.later(3, formatGet);
    const view = Buffer.from('value');
    second.onReply(ST_VALUE, 0, view);
    view.fill(0x78); // the worker's reply buffer is reused after the call
    first.onReply(ST_MISSING, 0, Buffer.alloc(0));
    assert.equal(q.out.take().toString(), '_\r\n$5\r\nvalue\r\n');
  });
});

describe('RespWriter view and release', () => {
  it('reuses its buffer after a view the socket took at once, and leaves a kept view untouched', () => {
    const q = new ReplyQueue(
      () => undefined,
      () => undefined,
    );
    const w = q.out;
    w.simple('ONE');
    const first = w.view();
    assert.equal(first.toString(), '+ONE\r\n');
    w.release(false);
    w.simple('TWO');
    assert.equal(first.toString(), '+TWO\r\n', 'a view released as sent is overwritten by the next reply');
    const kept = w.view();
    w.release(true);
    w.simple('THREE');
    assert.equal(kept.toString(), '+TWO\r\n', 'a view the socket still holds is never overwritten');
    assert.equal(w.view().toString(), '+THREE\r\n');
  });
});
