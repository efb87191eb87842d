/**
 * An op that reads a key and writes nothing (a SET NX that finds the key, a DEL of a missing key,
 * an edit with nothing to write: src/worker/store-writes.ts `answerRead`) answers as a read does:
 * once the key's write in flight that it read is durable, and with its error if it fails. Answered
 * at once, a SET NX GET named the value of a write that was then refused, which no read ever
 * returned and no store held. So does an INCR or edit refused for what it read (not an integer,
 * not a float, past the limit).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DistkvError } from '../../src/errors.js';
import { Positions } from '../../src/replication/positions.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import type { WriteResult } from '../../src/storage/store.js';
import { ReplyReader, RequestWriter } from '../../src/worker/op-codec.js';
import {
  EDIT_GETEX,
  EDIT_INCRBYFLOAT,
  encodeEdit,
  OP_DELETE,
  OP_DELETE_COUNTED,
  OP_EDIT,
  OP_INCR,
  OP_PUT,
  OP_SET_IF,
  SET_IF_NX,
  ST_DONE,
  ST_ERROR,
  ST_MISSING,
} from '../../src/worker/op-format.js';
import { OpRunner } from '../../src/worker/op-runner.js';
import { encodeOld } from '../../src/worker/read-modify-write.js';
import { ReplyBatch } from '../../src/worker/reply-batch.js';
import { StoreWrites } from '../../src/worker/store-writes.js';
import { WorkerStores } from '../../src/worker/worker-stores.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type HostReply, testStoreSpec } from '../helpers/worker-host.js';

/** HeldStore is a MemoryStore whose writes wait until the test settles them. */
class HeldStore extends MemoryStore {
  readonly held: { settle: (ok: boolean) => void }[] = [];

  override put(key: Uint8Array, value: Uint8Array, expiresAtMs = 0): Promise<WriteResult> {
    return this.hold(() => super.put(key, value, expiresAtMs));
  }

  override delete(key: Uint8Array): Promise<WriteResult> {
    return this.hold(() => super.delete(key));
  }

  private hold(write: () => Promise<WriteResult>): Promise<WriteResult> {
    return new Promise((resolve, reject) => {
      this.held.push({
        settle: (ok) => {
          if (ok) resolve(write());
          else reject(new DistkvError('UNAVAILABLE', 'the disk failed'));
        },
      });
    });
  }
}

/** setup is a worker's op path over one HeldStore, with its replies by op id. */
function setup(): {
  run: (fill: (w: RequestWriter) => void) => void;
  store: HeldStore;
  replies: Map<number, HostReply>;
} {
  const store = new HeldStore();
  const positions = new Positions(new SharedArrayBuffer(Positions.bytesFor(1)));
  const stores = new WorkerStores(positions, undefined);
  stores.hosted.set(0, { spec: testStoreSpec(tempDir(after), 0, 'memory'), store });
  const replies = new Map<number, HostReply>();
  const batch = new ReplyBatch((msg) => {
    if (msg.type !== 'replies') return;
    const r = new ReplyReader(msg.buffer, msg.length);
    while (r.next()) {
      assert.ok(!replies.has(r.id), `op ${r.id} answered twice`);
      replies.set(r.id, { status: r.status, seq: r.seq, value: Buffer.from(r.value) });
    }
  });
  const writes = new StoreWrites(stores.hosted, positions, batch, () => {
    throw new Error('no replication here');
  });
  after(() => {
    writes.close();
  });
  const runner = new OpRunner(stores, writes, batch);
  const run = (fill: (w: RequestWriter) => void): void => {
    const w = new RequestWriter();
    fill(w);
    const { buffer, length } = w.take();
    runner.run(buffer, length);
  };
  return { run, store, replies };
}

const turn = (): Promise<void> => new Promise((r) => setTimeout(r, 5));
const persist = encodeEdit({ kind: EDIT_GETEX, limit: 1024, atMs: 0, arg: Buffer.alloc(0) });

/** putThenReadIt adds op 1, PUT k v, then two ops that read k and write nothing: 2 SET NX, 3 GETEX PERSIST. */
function putThenReadIt(w: RequestWriter): void {
  w.add(1, OP_PUT, 0, 'k', 'v');
  w.add(2, OP_SET_IF, 0, 'k', Buffer.concat([Buffer.of(SET_IF_NX), Buffer.from('x')]));
  w.add(3, OP_EDIT, 0, 'k', persist);
}

describe('ops that write nothing, behind a write in flight', () => {
  it('fail with the write they read when it is refused, instead of naming its value', async () => {
    const { run, store, replies } = setup();
    run((w) => {
      putThenReadIt(w);
      w.add(4, OP_DELETE, 0, 'gone', undefined);
      w.add(5, OP_DELETE_COUNTED, 0, 'gone', Buffer.alloc(0));
    });
    await turn();
    assert.deepEqual([...replies.keys()], [], 'nothing is answered before the writes settle');
    for (const h of store.held) h.settle(false);
    await turn();
    for (const id of [1, 2, 3, 4, 5]) assert.equal(replies.get(id)?.status, ST_ERROR, `op ${id}`);
    assert.equal(store.get(Buffer.from('k')), undefined, 'k was never written');
  });

  it('answer what they read once the write they read is durable', async () => {
    const { run, store, replies } = setup();
    run((w) => {
      putThenReadIt(w);
      w.add(4, OP_DELETE_COUNTED, 0, 'never', Buffer.alloc(0));
    });
    await turn();
    assert.deepEqual(
      [...replies.keys()],
      [4],
      'a key without a write in flight is answered at once, the others wait',
    );
    for (const h of store.held) h.settle(true);
    await turn();
    assert.equal(replies.get(1)?.status, ST_DONE);
    assert.deepEqual(replies.get(2), { status: ST_MISSING, seq: 0, value: encodeOld(Buffer.from('v')) });
    assert.deepEqual(replies.get(3), {
      status: ST_DONE,
      seq: replies.get(1)!.seq,
      value: encodeOld(Buffer.from('v')),
    });
  });

  it('fail with the write they read, not with what its value would have made of them', async () => {
    const { run, store, replies } = setup();
    const float = encodeEdit({ kind: EDIT_INCRBYFLOAT, limit: 1024, atMs: 0, arg: Buffer.from('1') });
    run((w) => {
      w.add(1, OP_PUT, 0, 'k', 'abc');
      w.add(2, OP_INCR, 0, 'k', '1');
      w.add(3, OP_EDIT, 0, 'k', float);
    });
    await turn();
    assert.deepEqual([...replies.keys()], [], 'nothing is answered before the write settles');
    for (const h of store.held) h.settle(false);
    await turn();
    for (const id of [1, 2, 3]) {
      const error = JSON.parse(replies.get(id)?.value.toString() ?? '{}') as { code?: string };
      assert.equal(error.code, 'UNAVAILABLE', `op ${id}: the write's error, not that "abc" is no number`);
    }
  });
});
