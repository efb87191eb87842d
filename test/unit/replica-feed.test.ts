/**
 * A replica whose leader is on the same commit log (the default layout: both on one worker) is fed
 * in its leader's batches (LocalSource.follow, StoreLog.mirrorTo; docs/commit-log-format.md,
 * "Mirrored replicas"): its records share the leader's append and fdatasync, its ack is published
 * as the batch settles, and anything the feed cannot take (a failed batch, a cut leader) sends the
 * replica back to pulling from its ack, converging on the leader. Every kind of record goes
 * through the feed byte for byte, and a failover stops the feed of the promoted replica and feeds
 * the demoted leader only once it is back on the new leader's history.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ShardEpochs } from '../../src/replication/epochs.js';
import { Follower, type FollowerPosition } from '../../src/replication/follower.js';
import { LocalSource } from '../../src/replication/local-source.js';
import { epochOfSeq } from '../../src/routing/version.js';
import { FaultyVfs } from '../../src/storage/faulty-vfs.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { attachTestLsm, openTestGroup, wipeStoreDir } from '../helpers/lsm.js';
import { dump, ReplicaPair } from '../helpers/replica-pair.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** fedPair opens a shared-log pair on `vfs`, writes one record and waits until the replica holds it and follows. */
async function fedPair(vfs: FaultyVfs, pullWaitMs = 1000, memtableBytes?: number): Promise<ReplicaPair> {
  const pair = await ReplicaPair.open(tempDir(after), {
    vfs,
    sharedLog: true,
    pullWaitMs,
    ...(memtableBytes === undefined ? {} : { memtableBytes }),
  });
  await pair.leader.put(b('first'), b('1'));
  await pair.caughtUp();
  // The follower has published its ack and is waiting on the leader (fed, or in a long poll).
  await sleep(30);
  return pair;
}

describe('a replica on its leader commit log', () => {
  it('is made durable by the leader own batch: one fdatasync for a turn of writes, leader and replica', async () => {
    const vfs = new FaultyVfs();
    const pair = await fedPair(vfs);
    try {
      const syncs = vfs.syncCount;
      const writes = await Promise.all([0, 1, 2].map((i) => pair.leader.put(b(`k${i}`), b(`v${i}`))));
      const last = Math.max(...writes.map((w) => w.seq));
      await pair.caughtUp();
      assert.equal(vfs.syncCount - syncs, 1, 'no second batch (and fdatasync) for the replica');
      const p = pair.position;
      assert.ok(p !== undefined);
      assert.equal(p.ack, last, 'the replica published its ack');
      assert.equal(p.state, 'streaming');
      assert.deepEqual(dump(pair.replica), dump(pair.leader));
    } finally {
      await pair.close();
    }
  });

  it('holds a write once the leader acknowledges it (same batch), without a pull', async () => {
    const vfs = new FaultyVfs();
    const pair = await fedPair(vfs);
    try {
      for (let i = 0; i < 20; i++) {
        const { seq } = await pair.leader.put(b(`k${i % 3}`), b(`v${i}`));
        assert.equal(pair.replica.lastSeq(), seq, `write ${i}: the replica holds it as the leader answers`);
        assert.equal(pair.position?.ack, seq);
        assert.equal(Buffer.from(pair.replica.get(b(`k${i % 3}`)) ?? []).toString(), `v${i}`);
      }
    } finally {
      await pair.close();
    }
  });

  it('keeps reporting its leader contact while no write comes', async () => {
    const pair = await fedPair(new FaultyVfs(), 20);
    try {
      // Beats every 20 ms; the bounds leave room for a loaded machine's timer delays.
      await sleep(1500);
      const p = pair.position;
      assert.ok(p !== undefined);
      assert.equal(p.state, 'streaming');
      assert.equal(p.ack, pair.leader.lastSeq());
      assert.ok(Date.now() - p.contactAt < 750, `last contact ${Date.now() - p.contactAt} ms ago`);
      assert.ok(Date.now() - p.caughtUpAt < 750, `caught up ${Date.now() - p.caughtUpAt} ms ago`);
    } finally {
      await pair.close();
    }
  });

  it('stops being fed when a batch fails, then pulls back to its leader', async () => {
    const vfs = new FaultyVfs();
    const pair = await fedPair(vfs);
    try {
      const before = pair.replica.lastSeq();
      vfs.failSyncs(1);
      await assert.rejects(pair.leader.put(b('lost'), b('x')), { code: 'DISK_FULL' });
      assert.equal(pair.replica.lastSeq(), before, 'the refused write is on neither store');
      await sleep(600); // RETRY_MS: writes are refused for a while after a failed batch
      for (let i = 0; i < 10; i++) await pair.leader.put(b(`after${i}`), b(`${i}`));
      await pair.caughtUp();
      assert.deepEqual(dump(pair.replica), dump(pair.leader));
      assert.equal(pair.replica.get(b('lost')), undefined);
    } finally {
      await pair.close();
    }
  });

  it('keeps every write its published ack covers through a power loss', async () => {
    const vfs = new FaultyVfs();
    const root = tempDir(after);
    const pair = await ReplicaPair.open(root, { vfs, sharedLog: true });
    let acked = 0;
    try {
      await pair.leader.put(b('first'), b('1'));
      await pair.caughtUp();
      await sleep(30);
      for (let i = 0; i < 50; i++) {
        await pair.leader.put(b(`k${i}`), b(`v${i}`));
        acked = pair.position?.ack ?? 0;
      }
      // The next batch is in flight when the power goes.
      void pair.leader.put(b('in-flight'), b('x')).catch(() => undefined);
    } finally {
      const rebooted = vfs.crash(true);
      await pair.close().catch(() => undefined);
      const g = await openTestGroup(join(root, 'log'), [join(root, 'leader'), join(root, 'replica')], {
        vfs: rebooted,
      });
      try {
        const replica = g.stores[1]!;
        assert.equal(acked, 51, 'the fed replica acknowledged each write as its leader answered it');
        assert.ok(replica.lastSeq() >= acked, `replica at ${replica.lastSeq()} after acking ${acked}`);
        // Write k<i> has seq i + 2 (seq 1 is "first").
        for (let i = 0; i + 2 <= acked; i++)
          assert.equal(Buffer.from(replica.get(b(`k${i}`)) ?? []).toString(), `v${i}`);
      } finally {
        for (const s of g.stores) await s.close();
        await g.log.close();
      }
    }
  });
});

describe('a fed replica and what it is fed', () => {
  it("holds the leader's bytes and versions: TTL puts, expiries, deletes, values over 256 KiB, each as it is acknowledged", async () => {
    // Memtables big enough that nothing is flushed: the log keeps every record to compare.
    const pair = await fedPair(new FaultyVfs(), 1000, 16 << 20);
    try {
      const from = pair.leader.lastSeq();
      const future = Date.now() + 3_600_000;
      const l = pair.leader;
      const fedAt = async (w: Promise<{ seq: number }>): Promise<void> => {
        const { seq } = await w;
        assert.ok(pair.replica.lastSeq() >= seq, `seq ${seq} was not fed with its batch`);
      };
      await fedAt(l.put(b('big'), Buffer.alloc(300 * 1024, 1)));
      await Promise.all([
        fedAt(l.put(b('ttl'), b('soon'), future)),
        fedAt(l.put(b('small'), b('s'))),
        fedAt(l.put(b('max'), Buffer.alloc(1024 * 1024, 2))),
        fedAt(l.put(b('gone'), b('g'), future)),
      ]);
      await Promise.all([fedAt(l.delete(b('small'))), fedAt(l.expire(b('gone')))]);
      await fedAt(l.put(b('big'), Buffer.alloc(262145, 3)));
      await fedAt(l.put(b('empty'), Buffer.alloc(0)));
      for (const key of ['big', 'ttl', 'small', 'max', 'gone', 'empty']) {
        const lv = l.read(b(key));
        const rv = pair.replica.read(b(key));
        assert.deepEqual(
          rv === undefined ? undefined : { ...rv, value: Buffer.from(rv.value) },
          lv === undefined ? undefined : { ...lv, value: Buffer.from(lv.value) },
          key,
        );
        assert.equal(
          pair.replica.read(b(key), future + 1)?.seq,
          l.read(b(key), future + 1)?.seq,
          `${key} after expiry`,
        );
      }
      const lr = l.replication.readLog(from, 8 << 20);
      const rr = pair.replica.replication.readLog(from, 8 << 20);
      assert.ok(lr !== 'gone' && rr !== 'gone');
      assert.ok(rr.records.equals(lr.records), "the replica's log holds the leader's record bytes");
      assert.equal(pair.replica.replication.epoch, l.replication.epoch);
    } finally {
      await pair.close();
    }
  });

  it('backs off instead of spinning when its leader store closes under it', async () => {
    const pair = await fedPair(new FaultyVfs(), 200);
    try {
      await pair.leader.close();
      // A follower asking a closed leader again at once would starve the thread: no timer would fire.
      let ticks = 0;
      const timer = setInterval(() => ticks++, 10);
      await sleep(300);
      clearInterval(timer);
      assert.ok(ticks >= 3, `the thread ran ${ticks} timer ticks in 300 ms`);
      assert.equal(pair.state, 'disconnected');
    } finally {
      await pair.close();
    }
  });
});

/** Shard is two stores of one commit log (a and b) with followers between them, as failover moves them. */
class Shard {
  readonly stores: LsmStore[];
  readonly positions: (FollowerPosition | undefined)[] = [undefined, undefined];
  readonly forks: number[] = [];
  epochs: ShardEpochs = { epoch: 0, history: [] };
  private readonly dirs: string[];
  private readonly g: Awaited<ReturnType<typeof openTestGroup>>;
  private readonly vfs: FaultyVfs;

  private constructor(g: Awaited<ReturnType<typeof openTestGroup>>, dirs: string[], vfs: FaultyVfs) {
    this.g = g;
    this.stores = [...g.stores];
    this.dirs = dirs;
    this.vfs = vfs;
  }

  static async open(root: string): Promise<Shard> {
    const vfs = new FaultyVfs();
    const dirs = [join(root, 'a'), join(root, 'b')];
    return new Shard(await openTestGroup(join(root, 'log'), dirs, { vfs }), dirs, vfs);
  }

  /** follow starts store `r` following store `l`, as the replication host does (with this shard's epochs). */
  follow(r: number, l: number): Follower {
    const reattach = async (): Promise<LsmStore> => {
      const s = await attachTestLsm(this.g.log, this.dirs[r]!, { vfs: this.vfs });
      // As the replication host opens a replica: the epoch of its last record, from the history.
      if (!s.replication.epochRecovered) s.replication.epoch = epochOfSeq(this.epochs.history, s.lastSeq());
      this.stores[r] = s;
      return s;
    };
    const f = new Follower({
      source: new LocalSource(
        () => this.stores[l]!.replication,
        `store ${l}`,
        () => this.epochs,
      ),
      store: () => this.stores[r]!.replication,
      rebuild: async () => {
        await this.stores[r]!.close();
        wipeStoreDir(this.dirs[r]!, this.vfs);
        return (await reattach()).replication;
      },
      reopen: async () => {
        await this.stores[r]!.close();
        return (await reattach()).replication;
      },
      epochs: () => this.epochs,
      diverged: ({ fork }) => {
        this.forks.push(fork);
      },
      publish: (p) => {
        this.positions[r] = p;
      },
      pullMaxBytes: 1 << 20,
      pullWaitMs: 1000,
    });
    f.start();
    return f;
  }

  /** fedWrite writes on store `l` and says whether store `r` held it as the write was acknowledged. */
  async fedWrite(l: number, r: number, key: string): Promise<boolean> {
    const { seq } = await this.stores[l]!.put(b(key), b(key));
    return this.stores[r]!.lastSeq() === seq && this.positions[r]?.ack === seq;
  }

  /** caughtUp waits until store `r` holds store `l`'s last seq and says it streams from it. */
  async caughtUp(r: number, l: number): Promise<void> {
    const deadline = Date.now() + 20000;
    while (
      this.stores[r]!.lastSeq() < this.stores[l]!.lastSeq() ||
      this.positions[r]?.state !== 'streaming' ||
      this.positions[r].ack !== this.stores[l]!.lastSeq()
    ) {
      if (Date.now() > deadline)
        throw new Error(
          `store ${r} at ${this.stores[r]!.lastSeq()} behind store ${l} at ${this.stores[l]!.lastSeq()}: ${JSON.stringify(this.positions[r])}`,
        );
      await sleep(10);
    }
    await sleep(30);
  }

  /** promote makes store `l` the leader in the next epoch, from its next seq on (after its follower stopped). */
  promote(l: number): void {
    const epoch = this.epochs.epoch + 1;
    this.epochs = {
      epoch,
      history: [...this.epochs.history, { epoch, firstSeq: this.stores[l]!.lastSeq() + 1 }],
    };
    this.stores[l]!.replication.epoch = epoch;
  }

  async close(): Promise<void> {
    for (const s of this.stores) await s.close();
    await this.g.log.close();
  }
}

describe('a fed replica through a failover', () => {
  for (const tail of [0, 3])
    it(`is no longer fed once promoted, and feeds its demoted leader only on its own history (old leader ${tail} writes ahead)`, async () => {
      const shard = await Shard.open(tempDir(after));
      let followers: Follower[] = [];
      try {
        followers.push(shard.follow(1, 0));
        for (let i = 0; i < 10; i++) await shard.stores[0]!.put(b(`k${i}`), b(`v${i}`));
        await shard.caughtUp(1, 0);
        assert.ok(await shard.fedWrite(0, 1, 'fed-before'), 'b is fed by a before the failover');
        // b is promoted: its follower stops; writes a accepted before it learnt it was deposed stay on a.
        await followers[0]!.stop();
        followers = [];
        const bSeq = shard.stores[1]!.lastSeq();
        for (let i = 0; i < tail; i++) await shard.stores[0]!.put(b(`a-only${i}`), b('x'));
        await sleep(50);
        assert.equal(shard.stores[1]!.lastSeq(), bSeq, 'the old feed stopped with the follower');
        shard.promote(1);
        for (let i = 0; i < 3; i++) await shard.stores[1]!.put(b(`b${i}`), b(`w${i}`));
        // a is demoted and follows b.
        followers.push(shard.follow(0, 1));
        await shard.caughtUp(0, 1);
        const a = (): LsmStore => shard.stores[0]!;
        assert.deepEqual(dump(a()), dump(shard.stores[1]!));
        assert.deepEqual(shard.forks, tail === 0 ? [] : [bSeq], 'a saved its own writes above the fork');
        assert.ok(await shard.fedWrite(1, 0, 'fed-after'), 'a is fed by b once back on its history');
        assert.equal(a().replication.epoch, 1, "a logs b's records in b's epoch");
        assert.equal(a().read(b('fed-after'))?.seq, shard.stores[1]!.read(b('fed-after'))?.seq);
      } finally {
        for (const f of followers) await f.stop();
        await shard.close();
      }
    });
});
