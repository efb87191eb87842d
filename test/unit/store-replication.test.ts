/**
 * The replication seam of a store (src/storage/store-replication.ts): one conformance suite for the
 * LSM store (its LsmReplication, over a commit log of its own) and the in-memory twin (a MemoryStore
 * over a MemoryLog). Each claim is about what replication relies on: a store's own writes are in
 * its log; a leader's batch is applied with the leader's seqs and re-served byte for byte; a batch
 * that does not follow is refused without touching the epoch; retention keeps what a replica needs;
 * a snapshot loads into an empty store whose log then continues after it; a history id set is kept
 * across a reopen (src/storage/history-format.ts); and a Follower keeps a
 * replica equal to its leader through seeded random writes, including a resync once the leader's
 * log has moved on.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Follower } from '../../src/replication/follower.js';
import { LocalSource } from '../../src/replication/local-source.js';
import { newHistoryId } from '../../src/storage/history-format.js';
import { MemoryLog } from '../../src/storage/memory-log.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import type { Store } from '../../src/storage/store.js';
import type { StoreReplication } from '../../src/storage/store-replication.js';
import {
  decodeRecord,
  TYPE_DELETE,
  TYPE_EXPIRE,
  TYPE_PUT,
  TYPE_PUT_TTL,
} from '../../src/storage/wal-format.js';
import { openTestLsm } from '../helpers/lsm.js';
import { tempDir } from '../helpers/temp-dir.js';

/** Replicated is a store together with its replication seam. */
interface Replicated {
  store: Store;
  r: StoreReplication;
}

/**
 * Engine opens stores of one implementation. `shortLog` stores let records go soon after they are
 * durable elsewhere (so a lagging replica finds its ack gone); `idle` waits until the store has
 * done so; `reopen` closes and reopens a store as a restart does; `wipe` replaces it with an empty one.
 */
interface Engine {
  open(name: string, shortLog?: boolean): Promise<Replicated>;
  reopen(name: string, old: Replicated, shortLog?: boolean): Promise<Replicated>;
  wipe(name: string, old: Replicated, shortLog?: boolean): Promise<Replicated>;
  idle(s: Replicated): Promise<void>;
}

function lsmEngine(): Engine {
  const root = tempDir(after);
  const options = (shortLog: boolean) =>
    shortLog
      ? { walSegmentBytes: 8192, memtableBytes: 16384, ringBytes: 2048, walRetentionBytes: 1 << 30 }
      : {};
  const open = async (name: string, shortLog = false): Promise<Replicated> => {
    const store = await openTestLsm(join(root, name), options(shortLog));
    return { store, r: store.replication };
  };
  return {
    open,
    reopen: async (name, old, shortLog) => {
      await old.store.close();
      return open(name, shortLog);
    },
    wipe: async (name, old, shortLog) => {
      await old.store.close();
      rmSync(join(root, name), { recursive: true, force: true });
      return open(name, shortLog);
    },
    idle: async (s) => {
      const lsm = s.store as Store & { flush(): Promise<void>; idle(): Promise<void> };
      await lsm.flush();
      await lsm.idle();
    },
  };
}

function memoryEngine(): Engine {
  const open = (shortLog = false): Promise<Replicated> => {
    const store = new MemoryStore(Date.now, new MemoryLog(shortLog ? 20 : Number.POSITIVE_INFINITY));
    return Promise.resolve({ store, r: store.replication! });
  };
  return {
    open: (_name, shortLog) => open(shortLog),
    // Nothing is persisted: a reopened twin is the same store.
    reopen: (_name, old) => Promise.resolve(old),
    wipe: (_name, _old, shortLog) => open(shortLog),
    idle: () => Promise.resolve(),
  };
}

const b = (s: string): Buffer => Buffer.from(s);

function decodeAll(records: Buffer): { type: number; seq: number; key: string; value: string }[] {
  const out = [];
  for (let o = 0; o < records.length;) {
    const r = decodeRecord(records, o);
    assert.ok(typeof r !== 'string', typeof r === 'string' ? r : '');
    out.push({ type: r.type, seq: r.seq, key: r.key.toString(), value: r.value.toString() });
    o += r.size;
  }
  return out;
}

/** logOf reads a store's whole log after `after`. */
function logOf(r: StoreReplication, after = 0): Buffer {
  const parts: Buffer[] = [];
  for (let at = after; at < r.lastSeq();) {
    const got = r.readLog(at, 1 << 20);
    assert.ok(got !== 'gone', `the log holds seq ${at + 1}`);
    parts.push(got.records);
    at = got.lastSeq;
  }
  return Buffer.concat(parts);
}

function contentOf(s: Store): [string, string][] {
  return s
    .scan(new Uint8Array(0), undefined, 1 << 20)
    .map((e) => [Buffer.from(e.key).toString(), Buffer.from(e.value).toString()]);
}

/** seeded returns a deterministic generator of numbers in [0, 1). */
function seeded(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

const engines: [string, () => Engine][] = [
  ['LsmStore', lsmEngine],
  ['MemoryStore with a MemoryLog', memoryEngine],
];

for (const [name, make] of engines)
  describe(`store replication conformance: ${name}`, () => {
    it('keeps the history id set across a reopen, and has none once wiped', async () => {
      const e = make();
      let s = await e.open('history');
      assert.equal(s.r.history, undefined, 'a new store has no history id');
      const id = newHistoryId();
      s.r.setHistory(id);
      s = await e.reopen('history', s);
      assert.equal(s.r.history, id);
      s = await e.wipe('history', s);
      assert.equal(s.r.history, undefined, 'a wiped store (a resync) has no history id until it takes one');
      await s.store.close();
    });

    it("logs the store's own writes, deletes and expiries, in seq order", async () => {
      const e = make();
      const { store, r } = await e.open('a');
      try {
        await store.put(b('k1'), b('v1'));
        await store.put(b('k2'), b('v2'), Date.now() + 60_000);
        await store.delete(b('k1'));
        await store.expire(b('k2'));
        assert.equal(r.lastSeq(), 4);
        assert.deepEqual(
          decodeAll(logOf(r)).map((x) => [x.type, x.seq, x.key]),
          [
            [TYPE_PUT, 1, 'k1'],
            [TYPE_PUT_TTL, 2, 'k2'],
            [TYPE_DELETE, 3, 'k1'],
            [TYPE_EXPIRE, 4, 'k2'],
          ],
        );
        assert.equal(r.oldestLogSeq(), 1);
      } finally {
        await store.close();
      }
    });

    it("applies a leader's batch with its seqs and epoch, and re-serves the same bytes", async () => {
      const e = make();
      const leader = await e.open('leader');
      const replica = await e.open('replica');
      try {
        for (let i = 0; i < 20; i++) await leader.store.put(b(`k${i % 7}`), b(`v${i}`));
        await leader.store.delete(b('k3'));
        const batch = logOf(leader.r);
        const seen: [number, number][] = [];
        replica.r.onLog((_records, first, last) => seen.push([first, last]));
        assert.equal(await replica.r.applyReplicated(batch, 2), 21);
        assert.equal(replica.r.lastSeq(), 21);
        assert.equal(replica.r.epoch, 2, 'applied records are logged in the epoch they came with');
        assert.deepEqual(seen, [[1, 21]]);
        assert.ok(logOf(replica.r).equals(batch), "the replica's log holds the leader's bytes");
        assert.deepEqual(contentOf(replica.store), contentOf(leader.store));
        assert.equal(replica.store.get(b('k3')), undefined, 'deletes replicate');
        assert.equal(replica.store.read(b('k5'))?.seq, 20, "keys carry the leader's seqs");
      } finally {
        await replica.store.close();
        await leader.store.close();
      }
    });

    it('refuses a batch that does not follow its log, or is damaged, and keeps its epoch', async () => {
      const e = make();
      const leader = await e.open('leader');
      const replica = await e.open('replica');
      try {
        for (let i = 0; i < 5; i++) await leader.store.put(b(`k${i}`), b('v'));
        const all = logOf(leader.r);
        replica.r.epoch = 1;
        await assert.rejects(replica.r.applyReplicated(logOf(leader.r, 2), 4), { code: 'INTERNAL' });
        const damaged = Buffer.from(all);
        damaged[damaged.length - 1]! ^= 0xff;
        await assert.rejects(replica.r.applyReplicated(damaged, 4), { code: 'CORRUPTION' });
        assert.equal(replica.r.epoch, 1);
        assert.equal(replica.r.lastSeq(), 0);
        assert.equal(await replica.r.applyReplicated(Buffer.alloc(0)), 0, 'an empty batch changes nothing');
        assert.equal(await replica.r.applyReplicated(all), 5);
      } finally {
        await replica.store.close();
        await leader.store.close();
      }
    });

    it('keeps the records a replica still needs, and lets them go once none does', async () => {
      const e = make();
      const s = await e.open('short', true);
      try {
        let needed: number | undefined = 1;
        s.r.setRetention(() => needed);
        for (let i = 0; i < 300; i++) await s.store.put(b(`k${i}`), Buffer.alloc(200, i));
        await e.idle(s);
        assert.notEqual(s.r.readLog(0, 1000), 'gone', 'seq 1 is kept for the replica');
        assert.equal(s.r.oldestLogSeq(), 1);
        needed = undefined;
        for (let i = 0; i < 300; i++) await s.store.put(b(`k${i}`), Buffer.alloc(200, i));
        await e.idle(s);
        assert.equal(s.r.readLog(0, 1000), 'gone', 'nothing keeps seq 1 any more');
        assert.ok(s.r.oldestLogSeq() > 1);
      } finally {
        await s.store.close();
      }
    });

    it('loads a snapshot into an empty store; reopened, its log continues after the snapshot', async () => {
      const e = make();
      let s = await e.open('snap');
      try {
        await s.r.loadSnapshotChunk([{ key: b('a'), value: b('1') }], 7);
        await s.r.loadSnapshotChunk([{ key: b('b'), value: b('2') }], 7);
        await s.r.finishSnapshot(7);
        s = await e.reopen('snap', s);
        assert.equal(s.r.lastSeq(), 7);
        assert.deepEqual(contentOf(s.store), [
          ['a', '1'],
          ['b', '2'],
        ]);
        const leader = await e.open('snap-leader');
        for (let i = 0; i < 9; i++) await leader.store.put(b(`k${i}`), b(`v${i}`));
        await assert.rejects(s.r.applyReplicated(logOf(leader.r)), { code: 'INTERNAL' });
        assert.equal(await s.r.applyReplicated(logOf(leader.r, 7)), 9);
        assert.equal(s.store.get(b('k8'))?.toString(), 'v8');
        await leader.store.close();
      } finally {
        await s.store.close();
      }
    });

    it("a snapshot keeps each key's version and expiry: an expired key stays hidden, the rest answer as on the leader", async () => {
      const e = make();
      let s = await e.open('snap-ttl');
      const now = Date.now();
      const later = now + 3_600_000;
      try {
        await s.r.loadSnapshotChunk(
          [
            { key: b('kept'), value: b('1'), seq: 3, expiresAtMs: later },
            { key: b('gone'), value: b('2'), seq: 4, expiresAtMs: now - 1 },
            { key: b('plain'), value: b('3'), seq: 5, expiresAtMs: 0 },
            // An old (version 2) snapshot entry: the snapshot's seq, no expiry.
            { key: b('old'), value: b('4') },
          ],
          9,
        );
        await s.r.finishSnapshot(9);
        s = await e.reopen('snap-ttl', s);
        assert.deepEqual(s.store.read(b('kept')), { value: b('1'), seq: 3, expiresAtMs: later });
        assert.equal(s.store.read(b('gone')), undefined, 'expired at the leader, so expired here');
        assert.deepEqual(s.store.read(b('plain')), { value: b('3'), seq: 5, expiresAtMs: 0 });
        assert.deepEqual(s.store.read(b('old')), { value: b('4'), seq: 9, expiresAtMs: 0 });
      } finally {
        await s.store.close();
      }
    });

    it('keeps a follower equal to its leader through random writes and a resync (seeded)', async () => {
      const seed = Number(process.env.SEED ?? Date.now() % 100_000);
      const rand = seeded(seed);
      const e = make();
      const leader = await e.open('leader', true);
      let replica = await e.open('replica', true);
      let follower: Follower | undefined;
      const follow = (): Follower => {
        const f = new Follower({
          source: new LocalSource(() => leader.r, 'test leader'),
          store: () => replica.r,
          rebuild: async () => {
            replica = await e.wipe('replica', replica, true);
            return replica.r;
          },
          reopen: async () => {
            replica = await e.reopen('replica', replica, true);
            return replica.r;
          },
          publish: () => undefined,
          pullMaxBytes: 4096,
          pullWaitMs: 20,
        });
        f.start();
        return f;
      };
      const caughtUp = async (): Promise<void> => {
        const deadline = Date.now() + 20_000;
        while (replica.r.lastSeq() < leader.r.lastSeq()) {
          assert.ok(
            Date.now() < deadline,
            `seed ${seed}: replica at ${replica.r.lastSeq()}, leader at ${leader.r.lastSeq()}`,
          );
          await new Promise((r) => setTimeout(r, 10));
        }
      };
      const writes = async (n: number): Promise<void> => {
        for (let i = 0; i < n; i++) {
          const key = b(`k${Math.floor(rand() * 50)}`);
          const x = rand();
          if (x < 0.2) await leader.store.delete(key);
          else await leader.store.put(key, Buffer.alloc(Math.floor(rand() * 300), Math.floor(rand() * 256)));
        }
      };
      try {
        follower = follow();
        await writes(200);
        await caughtUp();
        assert.deepEqual(contentOf(replica.store), contentOf(leader.store), `seed ${seed}`);
        // The replica stops; the leader's log moves on past its ack, so it must resync.
        await follower.stop();
        await writes(400);
        await e.idle(leader);
        assert.equal(leader.r.readLog(replica.r.lastSeq(), 1000), 'gone', `seed ${seed}: the ack is gone`);
        follower = follow();
        await caughtUp();
        assert.equal(follower.counters.resyncs, 1, `seed ${seed}`);
        assert.deepEqual(contentOf(replica.store), contentOf(leader.store), `seed ${seed}`);
      } finally {
        await follower?.stop();
        await replica.store.close();
        await leader.store.close();
      }
    });
  });
