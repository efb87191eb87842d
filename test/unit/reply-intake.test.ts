/**
 * ReplyIntake (src/server/reply-intake.ts): a worker's messages are taken in the order they came,
 * at most about TURN_BYTES of large reply batches per turn, each large one acknowledged once taken
 * (not when it arrived); small batches and other messages pass at once unless something waits.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReplyIntake, TURN_BYTES } from '../../src/server/reply-intake.js';
import { ACKED_REPLY_BYTES } from '../../src/worker/messages.js';

/** Msg is a message of `bytes` (0: not a reply batch), named for the order checks. */
interface Msg {
  name: string;
  bytes: number;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function intake(): { taken: string[]; acked: number[]; turns: string[][]; i: ReplyIntake<Msg> } {
  const taken: string[] = [];
  const acked: number[] = [];
  const i = new ReplyIntake<Msg>(
    (m) => taken.push(m.name),
    (m) => m.bytes,
    (b) => acked.push(b),
  );
  return { taken, acked, turns: [], i };
}

describe('ReplyIntake', () => {
  it('takes small batches and other messages at once, unacknowledged', () => {
    const { taken, acked, i } = intake();
    i.receive({ name: 'small', bytes: ACKED_REPLY_BYTES - 1 });
    i.receive({ name: 'call', bytes: 0 });
    assert.deepEqual(taken, ['small', 'call']);
    assert.deepEqual(acked, []);
  });

  it('takes about TURN_BYTES of large batches per turn, in order with what came after them, acknowledging each as taken', async () => {
    const { taken, acked, i } = intake();
    const big = TURN_BYTES / 2;
    for (let n = 0; n < 6; n++) i.receive({ name: `big${n}`, bytes: big });
    i.receive({ name: 'small', bytes: 10 });
    i.receive({ name: 'call', bytes: 0 });
    assert.deepEqual(taken, ['big0', 'big1'], 'the first turn stops at its budget');
    assert.deepEqual(acked, [big, big], 'only what was taken is acknowledged');
    assert.equal(i.waitingCount, 6);
    await turn();
    assert.deepEqual(taken, ['big0', 'big1', 'big2', 'big3']);
    await turn();
    assert.deepEqual(taken, ['big0', 'big1', 'big2', 'big3', 'big4', 'big5', 'small', 'call']);
    assert.equal(acked.length, 6);
    assert.equal(i.waitingCount, 0);
    await turn();
    i.receive({ name: 'after', bytes: big });
    assert.equal(taken.at(-1), 'after', 'a batch of a turn with its budget left is taken at once');
  });

  it('acknowledges a large batch whose handler throws (else its worker held its backlog, and the calls behind it, for good)', () => {
    const acked: number[] = [];
    const i = new ReplyIntake<Msg>(
      () => {
        throw new Error('a handler failed');
      },
      (m) => m.bytes,
      (b) => acked.push(b),
    );
    assert.throws(() => {
      i.receive({ name: 'big', bytes: ACKED_REPLY_BYTES });
    }, /a handler failed/);
    assert.deepEqual(acked, [ACKED_REPLY_BYTES]);
  });

  it('drops what waits on clear (its worker is gone)', async () => {
    const { taken, i } = intake();
    for (let n = 0; n < 4; n++) i.receive({ name: `big${n}`, bytes: TURN_BYTES });
    i.clear();
    await turn();
    await turn();
    assert.deepEqual(taken, ['big0']);
    assert.equal(i.waitingCount, 0);
  });
});
