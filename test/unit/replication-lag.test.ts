/**
 * Honest lag (src/replication/lag.ts, follower freshness) and a replica ahead of its leader: what
 * a replica says about its distance to its leader must never understate it.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { join } from 'node:path';
import { Follower, type FollowerPosition } from '../../src/replication/follower.js';
import { CONTACT_GRACE_MS, lagHeader, provablyWithin, replicaLag } from '../../src/replication/lag.js';
import {
  FOLLOWER_STATES,
  Positions,
  SLOT_CAUGHT_UP_AT,
  SLOT_CONTACT_AT,
  SLOT_LAST_SEQ,
  SLOT_LEADER_SEQ,
  SLOT_STATE,
} from '../../src/replication/positions.js';
import type { PullResult, ReplicationSource, SnapshotStream } from '../../src/replication/source.js';
import type { LsmStore } from '../../src/storage/lsm-store.js';
import { openTestLsm } from '../helpers/lsm.js';
import { dump, ReplicaPair } from '../helpers/replica-pair.js';
import { tempDir } from '../helpers/temp-dir.js';

const NOW = 1_800_000_000_000;
const WAIT = 1000;

function positions(v: {
  state: (typeof FOLLOWER_STATES)[number];
  ack: number;
  leaderSeq: number;
  contactAt: number;
  caughtUpAt: number;
}): Positions {
  const p = new Positions(new SharedArrayBuffer(Positions.bytesFor(1)));
  p.set(0, SLOT_STATE, FOLLOWER_STATES.indexOf(v.state));
  p.set(0, SLOT_LAST_SEQ, v.ack);
  p.set(0, SLOT_LEADER_SEQ, v.leaderSeq);
  p.set(0, SLOT_CONTACT_AT, v.contactAt);
  p.set(0, SLOT_CAUGHT_UP_AT, v.caughtUpAt);
  return p;
}

async function until(what: string, probe: () => boolean, ms = 10000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('replica lag', () => {
  it('is unknown, never 0, for a disconnected replica, with the time since its last contact', () => {
    const p = positions({
      state: 'disconnected',
      ack: 5,
      leaderSeq: 5,
      contactAt: NOW - 7000,
      caughtUpAt: NOW - 7000,
    });
    const lag = replicaLag(p, 0, undefined, WAIT, NOW);
    assert.equal(lag.known, false);
    assert.equal(lagHeader(lag), 'disconnected; last-contact-ms=7000');
    assert.equal(provablyWithin(lag, 60000), false);
  });

  it('is unknown for a replica that never reached its leader', () => {
    const p = positions({ state: 'starting', ack: 0, leaderSeq: 0, contactAt: 0, caughtUpAt: 0 });
    const lag = replicaLag(p, 0, 0, WAIT, NOW);
    assert.equal(lagHeader(lag), 'starting; no-contact');
    assert.equal(provablyWithin(lag, 60000), false, 'even when its seqs match a live leader at 0');
  });

  it('is unknown when a streaming replica has not heard from its leader for longer than a long poll', () => {
    const silent = NOW - (WAIT + CONTACT_GRACE_MS + 1);
    const p = positions({ state: 'streaming', ack: 9, leaderSeq: 9, contactAt: silent, caughtUpAt: silent });
    const lag = replicaLag(p, 0, undefined, WAIT, NOW);
    assert.equal(lag.known, false);
    assert.equal(lag.state, 'disconnected');
  });

  it('is the time since the replica last held all its leader had, while it follows', () => {
    const p = positions({
      state: 'catching-up',
      ack: 90,
      leaderSeq: 100,
      contactAt: NOW - 10,
      caughtUpAt: NOW - 400,
    });
    const lag = replicaLag(p, 0, undefined, WAIT, NOW);
    assert.ok(lag.known);
    assert.equal(lag.lagSeqs, 10);
    assert.equal(lag.lagMs, 400);
    assert.equal(lagHeader(lag), '10');
    assert.equal(provablyWithin(lag, 400), true);
    assert.equal(provablyWithin(lag, 399), false);
    const never = positions({
      state: 'catching-up',
      ack: 90,
      leaderSeq: 100,
      contactAt: NOW - 10,
      caughtUpAt: 0,
    });
    assert.equal(
      provablyWithin(replicaLag(never, 0, undefined, WAIT, NOW), 1e9),
      false,
      'never caught up: no proof',
    );
  });

  it('is 0 ms when a leader in this process has published nothing beyond the ack', () => {
    const p = positions({
      state: 'streaming',
      ack: 50,
      leaderSeq: 40,
      contactAt: NOW - 5,
      caughtUpAt: NOW - 900,
    });
    const lag = replicaLag(p, 0, 50, WAIT, NOW);
    assert.ok(lag.known);
    assert.equal(lag.lagMs, 0);
    assert.equal(lag.lagSeqs, 0);
  });
});

describe('follower freshness', () => {
  it('stops advancing caughtUpAt and reports disconnected while its leader is cut off', async () => {
    const pair = await ReplicaPair.open(tempDir(after), { pullWaitMs: 20 });
    try {
      await pair.leader.put(Buffer.from('a'), Buffer.from('1'));
      await pair.caughtUp();
      await until('streaming', () => pair.position?.state === 'streaming' && pair.position.caughtUpAt > 0);
      pair.cut(true);
      await until('disconnected', () => pair.position?.state === 'disconnected');
      const frozen = pair.position!;
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(pair.position!.caughtUpAt, frozen.caughtUpAt, 'no proof of freshness without contact');
      assert.equal(pair.position!.contactAt, frozen.contactAt);
      assert.ok(Date.now() - frozen.caughtUpAt >= 100);
      pair.cut(false);
      await until('fresh again', () => pair.position!.caughtUpAt > frozen.caughtUpAt);
      assert.equal(pair.position!.state, 'streaming');
    } finally {
      await pair.close();
    }
  });

  it('a replica holding writes its leader never had resyncs to the leader', async () => {
    const pair = await ReplicaPair.open(tempDir(after), { pullWaitMs: 20 });
    try {
      await pair.leader.put(Buffer.from('a'), Buffer.from('1'));
      await pair.caughtUp();
      await pair.pause();
      // Another history: the replica took writes the leader does not have (e.g. the leader lost them).
      for (let i = 0; i < 5; i++) await pair.replica.put(Buffer.from(`stray${i}`), Buffer.from('x'));
      await pair.leader.put(Buffer.from('b'), Buffer.from('2'));
      pair.resume();
      await until('the replica equals its leader', () => {
        try {
          return JSON.stringify(dump(pair.replica)) === JSON.stringify(dump(pair.leader));
        } catch {
          return false; // closed while it resyncs
        }
      });
      assert.deepEqual(dump(pair.replica), [
        ['a', '1'],
        ['b', '2'],
      ]);
      assert.equal(pair.resyncs(), 1);
    } finally {
      await pair.close();
    }
  });
});

/**
 * FuzzySource plays a leader whose snapshot was read while it wrote: the snapshot says seq 1 but
 * already holds seq 2's value. Its first pull says 'gone', the next one answers nothing new yet.
 */
class FuzzySource implements ReplicationSource {
  readonly describe = 'fuzzy test leader';
  private pulls = 0;
  private readonly leader: LsmStore;

  constructor(leader: LsmStore) {
    this.leader = leader;
  }

  async pull(after: number, _maxBytes: number, waitMs: number): Promise<PullResult> {
    this.pulls++;
    if (this.pulls === 1) return 'gone';
    if (this.pulls === 2) return { records: Buffer.alloc(0), leaderSeq: 2 };
    const r = this.leader.replication.readLog(after, 1 << 20);
    if (r === 'gone') return 'gone';
    // Like a real leader, a pull with nothing new waits (else the follower would spin).
    if (r.records.length === 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
    return { records: r.records, leaderSeq: this.leader.lastSeq() };
  }

  snapshot(): Promise<SnapshotStream> {
    async function* chunks(): AsyncIterable<{ key: Uint8Array; value: Uint8Array }[]> {
      await Promise.resolve();
      yield [{ key: Buffer.from('a'), value: Buffer.from('2') }];
    }
    return Promise.resolve({ seq: 1, chunks: chunks(), exactSeq: () => 2 });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('resync from a fuzzy snapshot', () => {
  it('claims no position until the replica has replayed the log through the snapshot exact seq', async () => {
    const dir = tempDir(after);
    const leader = await openTestLsm(join(dir, 'leader'));
    await leader.put(Buffer.from('a'), Buffer.from('1'));
    await leader.put(Buffer.from('a'), Buffer.from('2'));
    let replica = await openTestLsm(join(dir, 'replica'));
    const published: { p: FollowerPosition; content: string }[] = [];
    const follower = new Follower({
      source: new FuzzySource(leader),
      store: () => replica.replication,
      rebuild: async () => {
        await replica.close();
        replica = await openTestLsm(join(dir, 'replica2'));
        return replica.replication;
      },
      reopen: async () => {
        await replica.close();
        replica = await openTestLsm(join(dir, 'replica2'));
        return replica.replication;
      },
      publish: (p) => {
        published.push({ p, content: JSON.stringify(dump(replica)) });
      },
      pullMaxBytes: 1 << 20,
      pullWaitMs: 10,
    });
    follower.start();
    try {
      await until('the replica reaches seq 2', () => published.some(({ p }) => p.ack === 2));
      const following = published.filter(({ p }) => p.state === 'streaming' || p.state === 'catching-up');
      assert.ok(following.length > 0);
      const leaderAt = new Map([
        [1, JSON.stringify([['a', '1']])],
        [2, JSON.stringify([['a', '2']])],
      ]);
      for (const { p, content } of following)
        assert.equal(
          content,
          leaderAt.get(p.ack),
          `the replica claimed ack ${p.ack} (${p.state}) holding ${content}`,
        );
      assert.equal(
        published.find(({ p }) => p.ack === 1 && p.state !== 'disconnected')?.p.state,
        'resyncing',
        'between the snapshot seq and its exact seq it is still resyncing',
      );
    } finally {
      await follower.stop();
      await replica.close();
      await leader.close();
    }
  });
});
