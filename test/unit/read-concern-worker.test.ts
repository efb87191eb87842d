/**
 * A worker's read with a read concern (OP_GET with `w` > 0; src/worker/store-reads.ts): answered
 * only once `w` replicas hold the leader store's last seq when the key was read (a ReadIndex-like
 * bound, not the key's own version: it covers an absence a delete made too), or
 * REPLICATION_TIMEOUT; refused by a store that is not a leader; with `w` = 0 answered at once,
 * asking nothing of replication. The replica acks are a twin here: each wait is held until the
 * test answers it. On the old code the worker ignored `w` on a read: it answered at once, and
 * asked for no acks, so every case failed.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DistkvError } from '../../src/errors.js';
import { Positions, SLOT_LAST_SEQ } from '../../src/replication/positions.js';
import type { ReplicationHost } from '../../src/replication/replication-host.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { ReplyReader } from '../../src/worker/op-codec.js';
import { ST_DONE, ST_ERROR, ST_MISSING, ST_VALUE } from '../../src/worker/op-format.js';
import { ReplyBatch } from '../../src/worker/reply-batch.js';
import { StoreReads } from '../../src/worker/store-reads.js';
import { StoreWrites } from '../../src/worker/store-writes.js';
import { WorkerStores } from '../../src/worker/worker-stores.js';
import { tempDir } from '../helpers/temp-dir.js';
import { orphanReplica, testStoreSpec } from '../helpers/worker-host.js';

const b = (s: string): Buffer => Buffer.from(s);

interface Reply {
  status: number;
  seq: number;
  value: string;
}

/** AckWait is one wait the worker asked the replication twin for, answered by `resolve(acked)`. */
interface AckWait {
  store: number;
  seq: number;
  n: number;
  timeoutMs: number;
  resolve: (acked: number) => void;
}

/** worker builds a leader store 0 (and a replica store 1) with their reads, writes and a replication twin. */
function worker() {
  const dir = tempDir(after);
  const positions = new Positions(new SharedArrayBuffer(Positions.bytesFor(2)));
  const stores = new WorkerStores(positions, undefined);
  const leader = new MemoryStore();
  stores.hosted.set(0, { spec: testStoreSpec(dir, 0, 'memory'), store: leader });
  stores.hosted.set(1, { spec: orphanReplica(testStoreSpec(dir, 1, 'memory')), store: new MemoryStore() });
  const replies = new Map<number, Reply>();
  const batch = new ReplyBatch((msg) => {
    if (msg.type !== 'replies') return;
    const r = new ReplyReader(msg.buffer, msg.length);
    while (r.next())
      replies.set(r.id, { status: r.status, seq: r.seq, value: Buffer.from(r.value).toString() });
  });
  const waits: AckWait[] = [];
  const replication = {
    waitForAcks: (store: number, seq: number, n: number, timeoutMs: number) =>
      new Promise<number>((resolve) => waits.push({ store, seq, n, timeoutMs, resolve })),
  } as unknown as ReplicationHost;
  const writes = new StoreWrites(stores.hosted, positions, batch, () => replication);
  after(() => {
    writes.close();
  });
  const reads = new StoreReads(stores, writes, batch);
  return { positions, leader, replies, batch, waits, writes, reads };
}

async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('a worker read with a read concern (w > 0)', () => {
  it("waits for replicas to hold the leader's last seq, not the key's version, then answers", async () => {
    const { positions, replies, batch, waits, writes, reads, leader } = worker();
    writes.write(1, 0, leader, b('k'), b('v1'), 0, 0, undefined);
    writes.write(2, 0, leader, b('other'), b('x'), 0, 0, undefined);
    await until('both writes durable', () => positions.get(0, SLOT_LAST_SEQ) === 2);
    reads.get(3, 0, leader, b('k'), 1, 700);
    reads.get(4, 0, leader, b('missing'), 2, 800);
    batch.flush();
    assert.equal(replies.has(3), false, 'not answered before the acks');
    assert.equal(replies.has(4), false);
    assert.deepEqual(
      waits.map(({ store, seq, n, timeoutMs }) => ({ store, seq, n, timeoutMs })),
      [
        { store: 0, seq: 2, n: 1, timeoutMs: 700 },
        { store: 0, seq: 2, n: 2, timeoutMs: 800 },
      ],
      "the bound is the store's last seq (2), above k's version (1)",
    );
    waits[0]!.resolve(1);
    waits[1]!.resolve(2);
    await until('the answers', () => replies.has(3) && replies.has(4));
    assert.deepEqual(replies.get(3), { status: ST_VALUE, seq: 1, value: 'v1' }, "k's value at its version");
    assert.equal(replies.get(4)?.status, ST_MISSING);
  });

  it('answers REPLICATION_TIMEOUT, not the value, when fewer replicas held it in time', async () => {
    const { positions, replies, batch, waits, writes, reads, leader } = worker();
    writes.write(1, 0, leader, b('k'), b('unreplicated'), 0, 0, undefined);
    await until('the write durable', () => positions.get(0, SLOT_LAST_SEQ) === 1);
    reads.get(2, 0, leader, b('k'), 1, 300);
    batch.flush();
    waits[0]!.resolve(0);
    await until('the answer', () => replies.has(2));
    const r = replies.get(2)!;
    assert.equal(r.status, ST_ERROR);
    const e = JSON.parse(r.value) as { code: string; message: string };
    assert.equal(e.code, 'REPLICATION_TIMEOUT');
    assert.match(e.message, /^0 of 1 replicas acknowledged seq 1 within 300 ms/);
    assert.doesNotMatch(r.value, /unreplicated/);
  });

  it('bounds a read that waited for a write in flight by that write too (a delete: the absence)', async () => {
    const { replies, batch, waits, writes, reads, leader } = worker();
    writes.write(1, 0, leader, b('k'), b('v1'), 0, 0, undefined);
    // Issued in the same turn: the read waits for the write to be durable, then for its acks.
    writes.write(2, 0, leader, b('k'), null, 0, 0, undefined);
    reads.get(3, 0, leader, b('k'), 1, 500);
    batch.flush();
    await until('the wait for acks', () => waits.length === 1);
    assert.equal(waits[0]!.seq, 2, "the delete's seq");
    assert.equal(replies.has(3), false);
    waits[0]!.resolve(1);
    await until('the answer', () => replies.has(3));
    assert.equal(replies.get(3)?.status, ST_MISSING);
    assert.equal(replies.get(2)?.status, ST_DONE);
  });

  it('is refused by a store that is not a leader (SWITCHING_LEADER), asking for no acks', () => {
    const { waits, reads } = worker();
    assert.throws(
      () => {
        reads.get(1, 1, new MemoryStore(), b('k'), 1, 500);
      },
      (e: unknown) => e instanceof DistkvError && e.code === 'SWITCHING_LEADER',
    );
    assert.equal(waits.length, 0);
  });

  it('with w = 0 answers at once and asks nothing of replication', async () => {
    const { positions, replies, batch, waits, writes, reads, leader } = worker();
    writes.write(1, 0, leader, b('k'), b('v'), 0, 0, undefined);
    await until('the write durable', () => positions.get(0, SLOT_LAST_SEQ) === 1);
    reads.get(2, 0, leader, b('k'));
    reads.get(3, 1, new MemoryStore(), b('k'), 0, 0);
    batch.flush();
    assert.deepEqual(replies.get(2), { status: ST_VALUE, seq: 1, value: 'v' });
    assert.equal(replies.get(3)?.status, ST_MISSING, 'a replica serves a plain read');
    assert.equal(waits.length, 0);
  });
});
