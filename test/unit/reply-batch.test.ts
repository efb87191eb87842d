/**
 * A shard worker's reply batches (src/worker/reply-batch.ts) go to the main thread copied, never
 * transferred: a transfer detaches the buffer, and the first detached ArrayBuffer of an isolate
 * makes every typed array access of that thread check for detachment from then on (the worker
 * ran about 12 % more instructions per PUT). Sent through a real MessagePort, the batch's buffer
 * must still be whole on the sending side, and the replies must arrive intact on the other.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageChannel, type Transferable } from 'node:worker_threads';
import type { FromWorker } from '../../src/worker/messages.js';
import { ReplyReader } from '../../src/worker/op-codec.js';
import { ST_DONE, ST_VALUE } from '../../src/worker/op-format.js';
import { ReplyBatch } from '../../src/worker/reply-batch.js';
import { ACKED_REPLY_BYTES } from '../../src/worker/messages.js';

describe('ReplyBatch', () => {
  it('sends its replies without detaching any buffer of the worker, and they arrive whole', async () => {
    const { port1, port2 } = new MessageChannel();
    const sent: ArrayBuffer[] = [];
    const received = new Promise<FromWorker>((resolve) => port2.once('message', resolve));
    // A send as a worker wires it: whatever the batch asks to transfer is transferred.
    const send = (msg: FromWorker, transfer?: Transferable[]): void => {
      if (msg.type === 'replies') sent.push(msg.buffer);
      port1.postMessage(msg, transfer);
    };
    const batch = new ReplyBatch(send);
    batch.add(7, ST_DONE, 42, undefined);
    batch.value(8, Buffer.from('hello'), 43);
    batch.flush();
    try {
      assert.equal(sent.length, 1);
      assert.ok(sent[0]!.byteLength > 0, 'the sent batch buffer was detached (transferred)');
      const msg = await received;
      assert.equal(msg.type, 'replies');
      const r = new ReplyReader(msg.buffer, msg.length);
      assert.ok(r.next());
      assert.deepEqual([r.id, r.status, r.seq], [7, ST_DONE, 42]);
      assert.ok(r.next());
      assert.deepEqual([r.id, r.status, r.seq, Buffer.from(r.value).toString()], [8, ST_VALUE, 43, 'hello']);
      assert.equal(r.next(), false);
    } finally {
      port1.close();
      port2.close();
    }
  });

  it('holds the backlog while the main thread has the hold bytes untaken, and releases it once taken', async () => {
    const batch = new ReplyBatch(() => undefined);
    batch.flow(2 * ACKED_REPLY_BYTES);
    let ran = 0;
    const run = (): void => {
      ran++;
    };
    const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    batch.whenRoom(run);
    await turn();
    assert.equal(ran, 1, 'nothing untaken: the run goes on in the next turn');
    batch.value(1, Buffer.alloc(ACKED_REPLY_BYTES), 1);
    batch.flush();
    batch.value(2, Buffer.alloc(ACKED_REPLY_BYTES), 1);
    batch.flush();
    assert.equal(batch.holding, true);
    batch.whenRoom(run);
    await turn();
    assert.equal(ran, 1, 'held while the hold bytes are untaken');
    batch.taken(ACKED_REPLY_BYTES + 8);
    assert.equal(batch.holding, false);
    await turn();
    assert.equal(ran, 2, 'released once the main thread took enough');
  });
});
