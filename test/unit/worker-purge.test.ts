/**
 * `/purge` (src/worker/purge.ts) deletes the keys a store's shard no longer owns, as client deletes
 * of its leader: a replica writes nothing of its own (its leader's deletes reach it by replication;
 * a record of its own would take seqs its leader gives other writes, and the replica, pulling after
 * its last seq, would never receive those), a fenced leader writes nothing, and the deletes are
 * writes in flight like any other (a fence waits for them, reads see them).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Positions } from '../../src/replication/positions.js';
import { slotOfBytes } from '../../src/routing/slot.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { entryBytes, SCAN_PAGE_BYTES } from '../../src/storage/store.js';
import type { FromWorker, StoreSpec } from '../../src/worker/messages.js';
import { OP_GET, OP_PUT, ST_MISSING, ST_VALUE } from '../../src/worker/op-format.js';
import { purgeForeignKeys } from '../../src/worker/purge.js';
import { ReplyBatch } from '../../src/worker/reply-batch.js';
import type { ShardHost } from '../../src/worker/shard-host.js';
import { StoreWrites } from '../../src/worker/store-writes.js';
import { tempDir } from '../helpers/temp-dir.js';
import {
  type ControlHost,
  openSpecHost,
  orphanReplica,
  runOps,
  testStoreSpec,
  untilReplies,
} from '../helpers/worker-host.js';

/** answer waits (bounded) for the reply to control message `id`. */
async function answer(h: ControlHost, id: number): Promise<FromWorker> {
  const deadline = Date.now() + 10_000;
  while (!h.control.has(id)) {
    if (Date.now() > deadline) assert.fail(`no reply to control message ${id}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return h.control.get(id)!;
}

/** control sends a control message and waits for its reply. */
function control(
  h: ControlHost,
  msg: Parameters<ShardHost['handle']>[0] & { id: number },
): Promise<FromWorker> {
  h.host.handle(msg);
  return answer(h, msg.id);
}

async function lastSeq(h: ControlHost, id: number): Promise<number> {
  const r = await control(h, { type: 'stats', id });
  assert.ok(r.type === 'stats-result');
  return Number(r.stores[0]!.stats.lastSeq);
}

/** KEYS: keys on both sides of slot 8192, the new end of the shard's range. */
const KEYS = Array.from({ length: 40 }, (_, i) => `k${i}`);
const LOW = { first: 0, last: 8191 };
const foreign = KEYS.filter((k) => slotOfBytes(Buffer.from(k)) > LOW.last);

/** withData writes KEYS through a leader of every slot in `dir`, closes it, and returns the spec of the shard cut to LOW. */
async function withData(dir: string): Promise<StoreSpec> {
  const full = testStoreSpec(dir);
  const h = await openSpecHost(full);
  runOps(h.host, (w) => {
    KEYS.forEach((k, i) => {
      w.add(i + 1, OP_PUT, 0, k, `v${i}`);
    });
  });
  await untilReplies(
    h.replies,
    KEYS.map((_, i) => i + 1),
  );
  await h.host.close();
  return { ...full, shard: { ...full.shard, ...LOW } };
}

describe('/purge on a worker', () => {
  it('has foreign keys to purge', () => {
    assert.ok(foreign.length > 5 && foreign.length < KEYS.length - 5, `${foreign.length} foreign keys`);
  });

  it('deletes nothing in a replica store: its log holds only its leader records', async () => {
    const dir = tempDir(after);
    const cut = await withData(dir);
    // The replica's leader is gone (nothing listens on port 1): whatever changes is its own doing.
    const h = await openSpecHost(orphanReplica(cut));
    after(() => h.host.close());
    const before = await lastSeq(h, 1);
    const r = await control(h, { type: 'purge', id: 2 });
    assert.ok(r.type === 'purge-result', JSON.stringify(r));
    assert.equal(r.deleted, 0, 'the leader purges; its deletes replicate');
    assert.equal(
      await lastSeq(h, 3),
      before,
      'a replica that wrote records of its own would pull after them',
    );
  });

  it('deletes nothing in a fenced leader, and says why', async () => {
    const dir = tempDir(after);
    const h = await openSpecHost(await withData(dir));
    after(() => h.host.close());
    const before = await lastSeq(h, 1);
    await control(h, { type: 'fence', id: 2, store: 0, on: true });
    const r = await control(h, { type: 'purge', id: 3 });
    assert.ok(r.type === 'error-result', JSON.stringify(r));
    assert.equal(r.error.code, 'SWITCHING_LEADER');
    assert.equal(await lastSeq(h, 4), before, 'a fence holds every write of the store');
  });

  it('deletes a leader foreign keys as writes a fence waits for and reads see', async () => {
    const dir = tempDir(after);
    const h = await openSpecHost(await withData(dir));
    after(() => h.host.close());
    const before = await lastSeq(h, 1);
    h.host.handle({ type: 'purge', id: 2 });
    // The fence comes while the purge's deletes are in flight: the seq it reports covers them.
    await new Promise((r) => setImmediate(r));
    const f = await control(h, { type: 'fence', id: 3, store: 0, on: true });
    await control(h, { type: 'fence', id: 4, store: 0, on: false });
    const r = await answer(h, 2);
    assert.ok(r.type === 'purge-result', JSON.stringify(r));
    assert.equal(r.deleted, foreign.length);
    assert.ok(f.type === 'fence-result');
    assert.equal(f.lastSeq, await lastSeq(h, 5));
    assert.equal(f.lastSeq, before + foreign.length);
    runOps(h.host, (w) => {
      KEYS.forEach((k, i) => {
        w.add(100 + i, OP_GET, 0, k, undefined);
      });
    });
    await untilReplies(
      h.replies,
      KEYS.map((_, i) => 100 + i),
    );
    KEYS.forEach((k, i) => {
      assert.equal(h.replies.get(100 + i)!.status, foreign.includes(k) ? ST_MISSING : ST_VALUE, k);
    });
  });

  it('reads a store of large values a bounded page at a time (it copied 1000 values a page)', async () => {
    const store = new MemoryStore();
    const value = Buffer.alloc(512 * 1024, 7);
    await Promise.all(KEYS.map((k) => store.put(Buffer.from(k), value)));
    const pages: number[] = [];
    const scan = store.scan.bind(store);
    store.scan = (prefix, afterKey, limit, maxBytes) => {
      const page = scan(prefix, afterKey, limit, maxBytes);
      pages.push(page.reduce((n, e) => n + entryBytes(e), 0));
      return page;
    };
    const spec = testStoreSpec(tempDir(after), 0, 'memory');
    const hosted = new Map([[0, { spec: { ...spec, shard: { ...spec.shard, ...LOW } }, store }]]);
    const writes = new StoreWrites(
      hosted,
      new Positions(new SharedArrayBuffer(Positions.bytesFor(1))),
      new ReplyBatch(() => undefined),
      () => {
        throw new Error('no replication here');
      },
    );
    assert.equal(await purgeForeignKeys(hosted, writes), foreign.length);
    writes.close();
    const largest = Math.max(...pages);
    assert.ok(
      largest <= SCAN_PAGE_BYTES + value.length + 8,
      `a page of ${largest} bytes (${KEYS.length} values of ${value.length} bytes in ${pages.length} pages)`,
    );
    for (const k of KEYS)
      assert.equal(store.get(Buffer.from(k)) !== undefined, !foreign.includes(k), `${k} after the purge`);
  });
});
