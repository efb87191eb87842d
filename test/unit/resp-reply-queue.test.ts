import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Pending, ReplyQueue } from '../../src/resp/reply-queue.js';
import { type ProtocolVersion, RespWriter } from '../../src/resp/resp-format.js';
import { ST_DONE, ST_ERROR, ST_MISSING, ST_VALUE } from '../../src/worker/op-format.js';
import { seededRandom, testSeed } from '../helpers/random.js';

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

  it('keeps muted replies (CLIENT REPLY OFF, SKIP) in the order and in depth but writes none of them', () => {
    const writes: number[] = [];
    const q = new ReplyQueue(
      () => undefined,
      (_store, seq) => writes.push(seq),
    );
    const a = q.later(2, formatGet);
    q.replyMode('off');
    const muted = q.later(2, formatGet, 0);
    q.now(2).simple('MUTED');
    assert.equal(q.depth, 2, 'a muted reply a worker owes still counts for flow control');
    q.replyMode('on');
    q.now(2).simple('ON');
    q.replyMode('skip');
    q.now(2).simple('SKIPPED');
    const b = q.later(2, formatGet);
    muted.onReply(ST_DONE, 7, Buffer.alloc(0));
    b.onReply(ST_VALUE, 0, Buffer.from('b'));
    a.onReply(ST_VALUE, 0, Buffer.from('a'));
    assert.equal(q.out.take().toString(), '$1\r\na\r\n+ON\r\n$1\r\nb\r\n');
    assert.equal(q.depth, 0);
    assert.deepEqual(writes, [7], 'a muted write still counts for WAIT');
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

  it('counts what hold adds in depth until it is taken back', () => {
    const q = new ReplyQueue(
      () => undefined,
      () => undefined,
    );
    const first = q.later(2, formatGet);
    q.hold(99);
    assert.equal(q.depth, 100, 'a multi-key command weighs its keys in the window while it gathers');
    q.hold(-99);
    first.onReply(ST_MISSING, 0, Buffer.alloc(0));
    assert.equal(q.depth, 0);
    assert.equal(q.out.take().toString(), '$-1\r\n');
  });
});

/** formatWrite answers a write as SET does: +OK, or the error (the seq names the write). */
const formatWrite = (w: RespWriter, status: number, _seq: number, value: Buffer): void => {
  if (status === ST_DONE) w.ok();
  else w.error(`ERR ${value.toString()}`);
};

describe('ReplyQueue: writes and replies that complete behind the head', () => {
  it('reports an acknowledged write when its reply arrives, not when it reaches the head', () => {
    const writes: [number, number][] = [];
    const q = new ReplyQueue(
      () => undefined,
      (store, seq) => writes.push([store, seq]),
    );
    const first = q.later(2, formatGet);
    const write = q.later(2, formatWrite, 3);
    const refused = q.later(2, formatWrite, 2);
    const read = q.later(2, formatGet);
    write.onReply(ST_DONE, 41, Buffer.alloc(0));
    refused.onReply(ST_ERROR, 0, Buffer.from('refused'));
    read.onReply(ST_VALUE, 7, Buffer.from('v'));
    assert.deepEqual(writes, [[3, 41]], 'WAIT sees the write while an earlier reply is outstanding');
    first.onReply(ST_MISSING, 0, Buffer.alloc(0));
    assert.deepEqual(writes, [[3, 41]], 'each write is reported once; refusals and reads never');
    assert.equal(q.out.take().toString(), '$-1\r\n+OK\r\n-ERR refused\r\n$1\r\nv\r\n');
  });

  it('writes a reply that completed behind the head in the protocol of its own command', () => {
    const q = new ReplyQueue(
      () => undefined,
      () => undefined,
    );
    const first = q.later(2, formatGet);
    const afterHello = q.later(3, formatGet);
    afterHello.onReply(ST_MISSING, 0, Buffer.alloc(0));
    first.onReply(ST_MISSING, 0, Buffer.alloc(0));
    assert.equal(q.out.take().toString(), '$-1\r\n_\r\n');
  });

  /**
   * The model: whatever order the workers answer in, `out` holds each command's reply, formatted
   * as if answered at once, in command order; every acknowledged write is reported exactly once.
   */
  it('matches in-order formatting for random pipelines answered in random order (seeded)', () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    try {
      for (let round = 0; round < 300; round++) {
        const reported: string[] = [];
        const q = new ReplyQueue(
          () => undefined,
          (store, seq) => reported.push(`${store}:${seq}`),
        );
        const expected = new RespWriter(2);
        const expectedWrites: string[] = [];
        const answers: { p: Pending; status: number; seq: number; value: Buffer }[] = [];
        const n = 1 + Math.floor(random() * 40);
        for (let i = 0; i < n; i++) {
          const proto: ProtocolVersion = random() < 0.3 ? 3 : 2;
          expected.proto = proto;
          const kind = random();
          if (kind < 0.15) {
            // a reply written at once (an error, PING), maybe behind outstanding ones
            q.now(proto).simple(`NOW${i}`);
            expected.simple(`NOW${i}`);
            continue;
          }
          const write = kind < 0.6;
          const store = write ? Math.floor(random() * 4) : -1;
          const format = write ? formatWrite : formatGet;
          const p = q.later(proto, format, store);
          // sizes from empty to past a writer's first chunk
          const value = Buffer.alloc(pick([0, 1, 100, 300, 20000]), 0x61 + (i % 26));
          const status = write ? pick([ST_DONE, ST_DONE, ST_ERROR]) : pick([ST_VALUE, ST_VALUE, ST_MISSING]);
          answers.push({ p, status, seq: i + 1, value });
          format(expected, status, i + 1, value);
          if (write && status === ST_DONE) expectedWrites.push(`${store}:${i + 1}`);
        }
        const out: Buffer[] = [];
        answers.sort(() => random() - 0.5);
        for (const a of answers) {
          a.p.onReply(a.status, a.seq, a.value);
          a.value.fill(0x7a); // the worker's reply buffer is reused after the call
          // the connection drains `out` once per turn
          if (random() < 0.2) out.push(q.out.take());
        }
        out.push(q.out.take());
        const at = `seed ${seed} round ${round}`;
        assert.equal(q.depth, 0, `${at}: every reply written`);
        assert.ok(Buffer.concat(out).equals(expected.take()), `${at}: replies in command order`);
        assert.deepEqual(
          reported.sort(),
          expectedWrites.sort(),
          `${at}: each acknowledged write reported once`,
        );
      }
    } catch (err) {
      process.stderr.write(`resp-reply-queue model test failed with DISTKV_SEED=${seed}\n`);
      throw err;
    }
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
