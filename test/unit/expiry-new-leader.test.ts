/**
 * A store that becomes a leader logs the expiry of the values it already holds (docs/api.md,
 * "TTL"; src/worker/expiry-scan.ts): after a restart, and after a promotion, the TTL keys written
 * before get their TYPE_EXPIRE record, so a watcher sees them expire, without any read of them.
 * An expiry that comes due while a fence holds the store's writes is logged once it is released,
 * and one beyond the reaper's horizon once a rescan of its store finds it.
 * Also `Store.expiring`'s pages on both engines that have it.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Positions } from '../../src/replication/positions.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { decodeLog, type LogRecord } from '../../src/watch/store-log.js';
import { encodeExt, OP_PUT_EXT } from '../../src/worker/op-format.js';
import { openTestLsm } from '../helpers/lsm.js';
import { checkEndsPageEarly, expiringPages, writeExpiryHistory } from '../helpers/expiring-pages.js';
import { tempDir } from '../helpers/temp-dir.js';
import {
  type ControlHost,
  openSpecHost,
  orphanReplica,
  runOps,
  testStoreSpec,
  untilReplies,
} from '../helpers/worker-host.js';
import { ExpiryReaper } from '../../src/worker/expiry-reaper.js';
import { ReplyBatch } from '../../src/worker/reply-batch.js';
import { StoreWrites } from '../../src/worker/store-writes.js';

/** putExpiring writes each key with its expiry through the worker's write path and waits until durable. */
async function putExpiring(h: ControlHost, keys: [string, number][]): Promise<void> {
  runOps(h.host, (w) => {
    keys.forEach(([key, expiresAtMs], i) => {
      w.add(i + 1, OP_PUT_EXT, 0, key, encodeExt({ flags: 0, ifSeq: 0, expiresAtMs }, 'v'));
    });
  });
  await untilReplies(
    h.replies,
    keys.map((_, i) => i + 1),
  );
}

/** logRecords reads the store's whole log through the watch API (watch-tap.ts). */
async function logRecords(h: ControlHost, id: number): Promise<LogRecord[]> {
  h.host.handle({ type: 'watch-read', id, store: 0, after: 0, maxBytes: 1 << 20, waitMs: 0 });
  const deadline = Date.now() + 10_000;
  while (!h.control.has(id)) {
    if (Date.now() > deadline) assert.fail('no watch-read reply');
    await new Promise((r) => setTimeout(r, 5));
  }
  const reply = h.control.get(id)!;
  assert.ok(reply.type === 'watch-read-result', `watch-read answered ${reply.type}`);
  if (reply.buffer === null) return [];
  return decodeLog(Buffer.from(reply.buffer, 0, reply.length));
}

/** untilExpired polls the log until every key in `keys` has an expire record; fails after `ms`. */
async function untilExpired(h: ControlHost, keys: string[], ms: number): Promise<LogRecord[]> {
  const deadline = Date.now() + ms;
  for (let id = 1000; ; id++) {
    const records = await logRecords(h, id);
    const expired = new Set(records.filter((r) => r.kind === 'expire').map((r) => r.key.toString()));
    if (keys.every((k) => expired.has(k))) return records;
    if (Date.now() > deadline)
      assert.fail(
        `no expire record for ${keys.filter((k) => !expired.has(k)).join(', ')} in ${records.map((r) => `${r.kind}:${r.key.toString()}`).join(' ')}`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
}

const b = (s: string): Buffer => Buffer.from(s);

const sleepUntil = (t: number): Promise<void> =>
  new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));

describe('expiries a new leader did not see written', () => {
  it('logs the expiry of TTL keys written before a restart: one expired while down, one later', async () => {
    const dir = tempDir(after);
    const first = await openSpecHost(testStoreSpec(dir));
    // Timed from the store's open, with room for a loaded machine: a put whose expiry has passed
    // by the time it is written is a delete (as Redis's SET PXAT), and this is about puts.
    const t = Date.now();
    await putExpiring(first, [
      ['down', t + 2000],
      ['later', t + 3500],
    ]);
    await first.host.close();
    await sleepUntil(t + 2100);
    const second = await openSpecHost(testStoreSpec(dir));
    after(() => second.host.close());
    // Nothing reads either key: only the reaper can log their expiry.
    const records = await untilExpired(second, ['down', 'later'], 3500 + 8000 - (Date.now() - t));
    const kinds = records.map((r) => `${r.kind}:${r.key.toString()}`);
    assert.ok(kinds.indexOf('put:down') < kinds.indexOf('expire:down'), kinds.join(' '));
    assert.equal(kinds.filter((k) => k === 'expire:later').length, 1, 'one expire record per key');
  });

  it('logs the expiry of TTL keys a replica held when it is promoted', async () => {
    const dir = tempDir(after);
    const leader = await openSpecHost(testStoreSpec(dir));
    const t = Date.now();
    await putExpiring(leader, [['promoted', t + 2500]]);
    await leader.host.close();
    // The same data reopened as a replica whose leader is gone (nothing listens on port 1).
    const replica = await openSpecHost(orphanReplica(testStoreSpec(dir)));
    after(() => replica.host.close());
    replica.host.handle({ type: 'set-role', id: 1, store: 0, spec: testStoreSpec(dir), fork: null });
    const records = await untilExpired(replica, ['promoted'], 2500 + 8000 - (Date.now() - t));
    assert.deepEqual(
      records.map((r) => `${r.kind}:${r.key.toString()}`),
      ['put:promoted', 'expire:promoted'],
    );
  });
});

describe('expiries due while a fence holds the writes', () => {
  it('logs the expiry of a key that expired under a fence once the fence is released', async () => {
    const dir = tempDir(after);
    const h = await openSpecHost(testStoreSpec(dir));
    after(() => h.host.close());
    const t = Date.now();
    await putExpiring(h, [['fenced', t + 1500]]);
    h.host.handle({ type: 'fence', id: 1, store: 0, on: true });
    await sleepUntil(t + 1900);
    const during = await logRecords(h, 2);
    assert.deepEqual(
      during.map((r) => `${r.kind}:${r.key.toString()}`),
      ['put:fenced'],
      'nothing is written while the fence holds',
    );
    h.host.handle({ type: 'fence', id: 3, store: 0, on: false });
    const records = await untilExpired(h, ['fenced'], 8000);
    assert.deepEqual(
      records.map((r) => `${r.kind}:${r.key.toString()}`),
      ['put:fenced', 'expire:fenced'],
    );
  });
});

describe('the reaper horizon', () => {
  it('remembers only the writes expiring within its horizon and hands the later ones to defer', () => {
    const deferred: string[] = [];
    const now = 1_000_000;
    const r = new ExpiryReaper(
      () => undefined,
      () => now,
      { ms: 1000, defer: (e) => deferred.push(e.key.toString()) },
    );
    try {
      r.add({ store: 0, key: Buffer.from('near'), seq: 1, expiresAtMs: now + 1000 });
      r.add({ store: 0, key: Buffer.from('far'), seq: 2, expiresAtMs: now + 1001 });
      r.add({ store: 0, key: Buffer.from('due'), seq: 3, expiresAtMs: now - 5 });
      assert.equal(r.size, 2);
      assert.deepEqual(deferred, ['far']);
    } finally {
      r.close();
    }
  });

  it('still logs the expiry of a write beyond the horizon: a rescan of its store finds it in time', async () => {
    const store = new MemoryStore();
    const stores = new Map([[0, { spec: testStoreSpec(tempDir(after), 0, 'memory'), store }]]);
    const writes = new StoreWrites(
      stores,
      new Positions(new SharedArrayBuffer(Positions.bytesFor(1))),
      new ReplyBatch(() => undefined),
      () => assert.fail('no replication here'),
      undefined,
      400,
    );
    after(() => {
      writes.close();
    });
    const t = Date.now();
    await writes.issue(0, store, b('near'), b('v'), t + 200);
    await writes.issue(0, store, b('far'), b('v'), t + 1500); // deferred: 1500 ms is beyond 400
    await writes.issue(0, store, b('farther'), b('v'), t + 2500);
    const deadline = t + 12_000;
    while (['near', 'far', 'farther'].some((k) => store.read(b(k), 0) !== undefined)) {
      if (Date.now() > deadline)
        assert.fail(
          `not expired: ${['near', 'far', 'farther'].filter((k) => store.read(b(k), 0) !== undefined).join(', ')}`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
  });
});

describe('Store.expiring', () => {
  it('lists every value with an expiry, expired or not, across memtable, runs and LMDB, page by page', async () => {
    const time = { now: 1000 };
    const lsm = await openTestLsm(tempDir(after), { clock: () => time.now, maxRuns: 1 });
    const memory = new MemoryStore(() => time.now);
    try {
      for (const s of [lsm, memory]) await writeExpiryHistory(s);
      await lsm.flush();
      await lsm.put(b('f'), b('7'), 1300); // in the memtable, the rest in LMDB or a run
      await memory.put(b('f'), b('7'), 1300);
      time.now = 5000;
      const want = ['a@1:1100', 'c@3:9000', 'f@8:1300'];
      for (const limit of [1, 2, 1000]) {
        assert.deepEqual(await expiringPages(lsm, limit), want, `lsm, ${limit} keys a page`);
        assert.deepEqual(await expiringPages(memory, limit), want, `memory, ${limit} keys a page`);
      }
    } finally {
      await lsm.close();
      await memory.close();
    }
  });

  it('ends an LSM page early after a few MiB of values, and still lists every key', async () => {
    const lsm = await openTestLsm(tempDir(after), { durability: 'none' });
    try {
      await checkEndsPageEarly(lsm);
    } finally {
      await lsm.close();
    }
  });
});
