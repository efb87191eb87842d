/**
 * A fed replica (docs/commit-log-format.md, "Mirrored replicas") under the faults the feed claims
 * to survive: the power failing at each point of a fed batch (appended and not synced, synced and
 * not settled, a segment being rolled), the feed ending while earlier fed batches are still in
 * flight, and its apply throwing. Syncs are held (test/helpers/gated-vfs.ts) so that batches are
 * in flight when the fault comes. After a power loss both stores are recovered from the log as a
 * worker recovers them, and must hold every write either acknowledged, never more than the
 * writes issued, and the replica nothing its leader lacks.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { FollowerState } from '../../src/replication/positions.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { GatedVfs } from '../helpers/gated-vfs.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { dump, ReplicaPair } from '../helpers/replica-pair.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Feeding is a fed pair on a GatedVfs, with the states its follower went through. */
interface Feeding {
  pair: ReplicaPair;
  vfs: GatedVfs;
  states: FollowerState[];
}

/** fedPair opens a shared-log pair, writes one record and waits until the replica holds it and is fed. */
async function fedPair(walSegmentBytes = 1 << 20): Promise<Feeding> {
  const vfs = new GatedVfs();
  const states: FollowerState[] = [];
  const pair = await ReplicaPair.open(tempDir(after), {
    vfs,
    sharedLog: true,
    pullWaitMs: 1000,
    walSegmentBytes,
    onPublish: (p) => {
      if (states[states.length - 1] !== p.state) states.push(p.state);
    },
  });
  await pair.leader.put(b('first'), b('1'));
  await pair.caughtUp();
  await sleep(30);
  return { pair, vfs, states };
}

/** Writes tracks the writes a test issued: each key once, with the value `v:<key>`. */
class Writes {
  /** acked maps each acknowledged key to its seq (acknowledged before the crash). */
  readonly acked = new Map<string, number>();
  private crashed = false;
  private readonly issued = new Set<string>();

  /** put issues a write of `key` on `store` without waiting for it. */
  put(store: LsmStore, key: string): void {
    this.issued.add(key);
    store.put(b(key), b(`v:${key}`)).then(
      ({ seq }) => {
        if (!this.crashed) this.acked.set(key, seq);
      },
      () => undefined,
    );
  }

  /** crash: acknowledgements from now on come from a process that is already dead. */
  crash(): void {
    this.crashed = true;
  }

  /** check asserts what a recovered pair holds against what was issued and acknowledged. */
  check(pair: ReplicaPair, replicaAck: number, what: string): void {
    const { leader, replica } = pair;
    for (const [key, seq] of this.acked) {
      assert.equal(leader.read(b(key))?.seq, seq, `${what}: the leader lost acknowledged ${key}`);
      if (seq <= replicaAck)
        assert.equal(
          replica.read(b(key))?.seq,
          seq,
          `${what}: the replica lost ${key}, which its ack covers`,
        );
    }
    assert.ok(
      replica.lastSeq() >= replicaAck,
      `${what}: replica at ${replica.lastSeq()} after acking ${replicaAck}`,
    );
    assert.ok(replica.lastSeq() <= leader.lastSeq(), `${what}: the replica is ahead of its leader`);
    for (const [key, value] of dump(leader)) {
      if (key === 'first') continue;
      assert.ok(this.issued.has(key), `${what}: the leader holds ${key}, never written`);
      assert.equal(value, `v:${key}`);
    }
    for (const [key, value] of dump(replica)) {
      const l = leader.read(b(key));
      assert.equal(Buffer.from(l?.value ?? []).toString('latin1'), value, `${what}: replica ${key} differs`);
      assert.equal(replica.read(b(key))?.seq, l?.seq, `${what}: replica ${key} has another version`);
    }
  }
}

/** inFlight issues `batches` turns of `per` writes each while syncs are held: that many fed batches wait to sync. */
async function inFlight(f: Feeding, w: Writes, batches: number, per: number, tag: string): Promise<void> {
  f.vfs.hold();
  for (let i = 0; i < batches; i++) {
    for (let j = 0; j < per; j++) w.put(f.pair.leader, `${tag}${i}.${j}`);
    await f.vfs.untilHeld(i + 1);
  }
}

describe('a fed replica when the power fails', () => {
  it('keeps what either store acknowledged when the power fails between fed batches appends and their fdatasyncs', async () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    for (let round = 0; round < 6; round++) {
      const f = await fedPair();
      const w = new Writes();
      try {
        for (let i = 0; i < 5; i++) w.put(f.pair.leader, `a${i}`);
        await f.pair.caughtUp();
        await turn();
        const ack = f.pair.position?.ack ?? 0;
        await inFlight(f, w, 1 + (round % 4), 3, 'b');
        w.crash();
        const rebooted = new GatedVfs(f.vfs.disk.crash(true, random));
        f.vfs.release();
        await f.pair.reboot(rebooted);
        w.check(f.pair, ack, `seed ${seed} round ${round}`);
        await f.pair.caughtUp();
        assert.deepEqual(dump(f.pair.replica), dump(f.pair.leader), `seed ${seed} round ${round}`);
      } finally {
        await f.pair.close();
      }
    }
  });

  it('holds the whole fed batch on both stores when the power fails after its fdatasync, before it settles', async () => {
    const f = await fedPair();
    const w = new Writes();
    try {
      let rebooted: GatedVfs | undefined;
      f.vfs.afterSync = () => {
        f.vfs.afterSync = undefined;
        w.crash();
        rebooted = new GatedVfs(f.vfs.disk.crash());
      };
      const last = f.pair.leader.lastSeq() + 4;
      for (let i = 0; i < 4; i++) w.put(f.pair.leader, `c${i}`);
      while (rebooted === undefined) await turn();
      await f.pair.reboot(rebooted);
      w.check(f.pair, 0, 'crash after the sync');
      assert.equal(f.pair.leader.lastSeq(), last, 'the synced batch is on the leader');
      assert.equal(
        f.pair.replica.lastSeq(),
        last,
        'the synced batch is on the fed replica: one fdatasync covered both',
      );
    } finally {
      await f.pair.close();
    }
  });

  it('keeps what either store acknowledged when the power fails while a new segment is started', async () => {
    const f = await fedPair(8 * 1024);
    const w = new Writes();
    try {
      let rebooted: GatedVfs | undefined;
      let ack = 0;
      // A segment is started by creating it, or by renaming the spare prepared for it.
      const start = (path: string): void => {
        if (!path.endsWith('.log') || rebooted !== undefined) return;
        w.crash();
        ack = f.pair.position?.ack ?? 0;
        rebooted = new GatedVfs(f.vfs.disk.crash());
      };
      f.vfs.onCreate = start;
      f.vfs.onRename = (_, to) => {
        start(to);
      };
      for (let i = 0; i < 200 && rebooted === undefined; i++) {
        w.put(f.pair.leader, `d${i}.${'x'.repeat(300)}`);
        if (i % 5 === 4) await turn();
      }
      while (rebooted === undefined) await turn();
      await f.pair.reboot(rebooted);
      assert.ok(w.acked.size > 0);
      w.check(f.pair, ack, 'crash at a segment roll');
      for (let i = 0; i < 20; i++) await f.pair.leader.put(b(`e${i}`), b(`v:e${i}`));
      await f.pair.caughtUp();
      assert.deepEqual(dump(f.pair.replica), dump(f.pair.leader));
    } finally {
      await f.pair.close();
    }
  });
});

/** replicaWrites reaches into the replica's LsmReplication for the hooks it writes through (fault injection only). */
function replicaWrites(pair: ReplicaPair): { admit: () => boolean; applyRecord: (...a: never[]) => void } {
  return (pair.replica.replication as unknown as { store: ReturnType<typeof replicaWrites> }).store;
}

describe('a fed replica whose feed ends', () => {
  it('pulls on from its ack without an error when its feed ends while earlier fed batches are in flight', async () => {
    const f = await fedPair();
    const w = new Writes();
    try {
      await inFlight(f, w, 2, 2, 'p');
      // The replica stalls (as with too many frozen memtables) when the third batch is taken.
      const hooks = replicaWrites(f.pair);
      const admit = hooks.admit;
      hooks.admit = () => {
        hooks.admit = admit;
        return false;
      };
      w.put(f.pair.leader, 'p-stalled');
      await f.vfs.untilHeld(3);
      f.vfs.release();
      await f.pair.caughtUp();
      for (let i = 0; i < 5; i++) await f.pair.leader.put(b(`q${i}`), b(`v:q${i}`));
      await f.pair.caughtUp();
      assert.deepEqual(dump(f.pair.replica), dump(f.pair.leader));
      assert.equal(f.pair.errors(), 0, 'no pull was refused as out of order');
      assert.ok(!f.states.includes('disconnected'), `states: ${f.states.join(', ')}`);
    } finally {
      await f.pair.close();
    }
  });

  it('restarts (closed and reopened) while fed batches are in flight, keeping its ack, and converges', async () => {
    const f = await fedPair();
    const w = new Writes();
    try {
      await inFlight(f, w, 3, 2, 'r');
      const restarted = f.pair.restartReplica();
      await turn();
      f.vfs.release();
      await restarted;
      const ack = f.pair.position?.ack ?? 0;
      for (let i = 0; i < 5; i++) await f.pair.leader.put(b(`s${i}`), b(`v:s${i}`));
      await f.pair.caughtUp();
      assert.ok(f.pair.replica.lastSeq() >= ack);
      assert.deepEqual(dump(f.pair.replica), dump(f.pair.leader));
      for (const [key] of dump(f.pair.leader))
        assert.equal(f.pair.replica.read(b(key))?.seq, f.pair.leader.read(b(key))?.seq, key);
    } finally {
      await f.pair.close();
    }
  });

  it('converges on its leader, without a hole, when applying a fed batch throws', async () => {
    const f = await fedPair();
    const w = new Writes();
    try {
      await inFlight(f, w, 3, 2, 't');
      const hooks = replicaWrites(f.pair);
      const apply = hooks.applyRecord;
      hooks.applyRecord = () => {
        hooks.applyRecord = apply;
        throw new RangeError('Array buffer allocation failed');
      };
      f.vfs.release();
      for (let i = 0; i < 5; i++) await f.pair.leader.put(b(`u${i}`), b(`v:u${i}`));
      await f.pair.caughtUp();
      assert.deepEqual(dump(f.pair.replica), dump(f.pair.leader));
      for (const [key] of dump(f.pair.leader))
        assert.equal(f.pair.replica.read(b(key))?.seq, f.pair.leader.read(b(key))?.seq, key);
      assert.ok(f.pair.resyncs() >= 1, 'the replica rebuilt itself from a snapshot');
    } finally {
      await f.pair.close();
    }
  });
});
