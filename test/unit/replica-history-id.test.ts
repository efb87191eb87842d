/**
 * (epoch, seq) names a record only within one history of a shard (docs/wal-format.md, "History
 * ids"). A leader whose data directory was lost starts another history, and a replica of the old
 * one at (0, 30), below what the leader held at its start, passed every check (restartFork sees
 * only positions above the leader's start): it was served 31..40 on top of its own 1..30. Now a
 * pull names the replica's history id: another id at a position above 0 is a fork at 0, whatever
 * its epoch says; no id is not checked (an older replica, the seed's); the same id goes through
 * the usual rules. A leader without an id gets one when it starts leading, a replica takes its
 * leader's while it holds nothing or has none, and a store keeps its id across a reopen.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { adoptHistory } from '../../src/replication/history-check.js';
import { LeaderState } from '../../src/replication/leader-state.js';
import { LocalSource } from '../../src/replication/local-source.js';
import { answerPull, type PullLeader } from '../../src/replication/pull-answer.js';
import type { HostedStore } from '../../src/replication/replication-host.js';
import { loadSnapshot } from '../../src/replication/snapshot-load.js';
import type { Pulled, SnapshotStream } from '../../src/replication/source.js';
import { HISTORY_FILE, newHistoryId } from '../../src/storage/history-format.js';
import { MemoryLog } from '../../src/storage/memory-log.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import type { MemoryReplication } from '../../src/storage/memory-replication.js';
import type { StoreSpec } from '../../src/worker/messages.js';
import { openTestLsm } from '../helpers/lsm.js';
import { inDir, localReplicaSpec, testReplicationHost } from '../helpers/replication-host.js';
import { tempDir } from '../helpers/temp-dir.js';

const b = (s: string): Buffer => Buffer.from(s);
const OURS = newHistoryId();
const THEIRS = newHistoryId();

/** leaderWith is a memory leader store of history `id` holding `n` writes. */
async function leaderWith(id: string, n: number): Promise<{ store: MemoryStore; repl: MemoryReplication }> {
  const store = new MemoryStore(Date.now, new MemoryLog());
  const repl = store.replication!;
  repl.setHistory(id);
  for (let i = 1; i <= n; i++) await store.put(b(`new${i}`), b(`v${i}`));
  return { store, repl };
}

/** pullLeader answers pulls from `repl` as its worker does, restartFork from a LeaderState begun at `state`. */
function pullLeader(repl: MemoryReplication, state: LeaderState): PullLeader {
  return {
    name: 'store 0',
    store: () => repl,
    epochs: () => ({ epoch: 0, history: [] }),
    ack: (r, seq) => {
      state.ack(r, seq);
    },
    restartFork: (r, a) => state.restartFork(r, a),
  };
}

const pull = { maxBytes: 1 << 20, waitMs: 0, replica: '127.0.0.1:2', epoch: 0 };

describe('a pull from a replica of another history of the shard', () => {
  it('is answered as a fork at 0 when it holds records, though its (epoch, seq) is on the leader’s history', async () => {
    const { repl } = await leaderWith(OURS, 40);
    const leader = pullLeader(repl, new LeaderState(() => repl.lastSeq()));
    const a = await answerPull(leader, { ...pull, after: 30, history: THEIRS });
    assert.equal(
      a.fork,
      0,
      `answered ${a.records.length} bytes of the leader's records on top of another history's`,
    );
    assert.equal(a.records.length, 0);
    assert.equal(a.history, OURS, 'the answer names the leader’s history');
    // Even beyond the leader's last seq: it is told the fork (it saves its records), not REPLICA_AHEAD.
    assert.equal((await answerPull(leader, { ...pull, after: 45, history: THEIRS })).fork, 0);
  });

  it('is served from seq 0, naming the leader’s history, which the replica then takes', async () => {
    const { repl } = await leaderWith(OURS, 3);
    const leader = pullLeader(repl, new LeaderState(() => repl.lastSeq()));
    const a = await answerPull(leader, { ...pull, after: 0, history: THEIRS });
    assert.equal(a.fork, undefined);
    assert.equal(a.records.length > 0, true);
    assert.equal(a.history, OURS);
    const replica = new MemoryStore(Date.now, new MemoryLog()).replication!;
    replica.setHistory(THEIRS);
    adoptHistory(replica, a.history, 0);
    assert.equal(replica.history, OURS, 'a replica that holds nothing takes its leader’s history');
  });

  it('is not checked when it names no history (an older replica, the seed’s): the usual rules apply', async () => {
    const { repl } = await leaderWith(OURS, 40);
    const leader = pullLeader(repl, new LeaderState(() => repl.lastSeq()));
    const a = await answerPull(leader, { ...pull, after: 30 });
    assert.equal(a.fork, undefined);
    assert.equal(a.records.length > 0, true);
    await assert.rejects(answerPull(leader, { ...pull, after: 45 }), { code: 'REPLICA_AHEAD' });
  });

  it('of the same history goes through the usual rules (records, REPLICA_AHEAD, the restart fork)', async () => {
    const { store, repl } = await leaderWith(OURS, 40);
    // The leader started (its state began) at 40, then took 5 more.
    const state = new LeaderState(() => repl.lastSeq());
    for (let i = 41; i <= 45; i++) await store.put(b(`new${i}`), b(`v${i}`));
    const leader = pullLeader(repl, state);
    const a = await answerPull(leader, { ...pull, after: 30, history: OURS });
    assert.equal(a.fork, undefined);
    assert.equal(a.records.length > 0, true);
    // A first position above the leader's start is the restart fork there, as before.
    const b2 = await answerPull(leader, { ...pull, replica: '127.0.0.1:3', after: 43, history: OURS });
    assert.equal(b2.fork, 40);
    await assert.rejects(answerPull(leader, { ...pull, after: 50, history: OURS }), {
      code: 'REPLICA_AHEAD',
    });
  });
});

describe('a replica of another history on the leader’s worker (LocalSource)', () => {
  it('is told the fork at 0 by a pull and is not fed; one of the leader’s history is', async () => {
    const { repl } = await leaderWith(OURS, 5);
    const source = new LocalSource(() => repl, 'local store 0');
    assert.deepEqual(await source.pull(3, 1 << 20, 0, { epoch: 0, history: THEIRS }), { fork: 0, epoch: 0 });
    const served = (await source.pull(3, 1 << 20, 0, { epoch: 0, history: OURS })) as Pulled;
    assert.equal(served.records.length > 0, true);
    assert.equal(served.history, OURS);
    const foreign = new MemoryStore(Date.now, new MemoryLog()).replication!;
    foreign.setHistory(THEIRS);
    const fed = source.follow({
      replica: foreign,
      after: 0,
      epoch: 0,
      known: 0,
      waitMs: 10,
      fed: () => undefined,
    });
    assert.equal(fed, undefined, 'a replica of another history was fed the leader’s records');
  });
});

describe('the history id a store keeps', () => {
  const root = tempDir(after);

  it('is given to a leader that has none when it starts leading, kept across a reopen and by a later start', async () => {
    const dir = join(root, 'leader');
    let store = await openTestLsm(dir);
    assert.equal(store.replication.history, undefined);
    let host = testReplicationHost(
      new Map<number, HostedStore>([[0, { spec: inDir(dir, 'leader'), store }]]),
    );
    host.start();
    const id = store.replication.history;
    assert.match(String(id), /^[0-9a-f]{32}$/);
    assert.equal(existsSync(join(dir, HISTORY_FILE)), true);
    await host.stop();
    await store.close();
    store = await openTestLsm(dir);
    assert.equal(store.replication.history, id, 'the id came back with the store');
    host = testReplicationHost(new Map<number, HostedStore>([[0, { spec: inDir(dir, 'leader'), store }]]));
    host.start();
    assert.equal(
      store.replication.history,
      id,
      'a store that has an id keeps it when it leads (a promotion too)',
    );
    await host.stop();
    await store.close();
  });

  it('is taken from the snapshot a replica is rebuilt from', async () => {
    const replica = new MemoryStore(Date.now, new MemoryLog()).replication!;
    async function* chunks(): AsyncIterable<{ key: Uint8Array; value: Uint8Array }[]> {
      await Promise.resolve();
      yield [{ key: b('k'), value: b('v') }];
    }
    const snapshot: SnapshotStream = { seq: 7, epoch: 0, history: OURS, chunks: chunks(), exactSeq: () => 7 };
    const done = await loadSnapshot(snapshot, {
      rebuild: () => Promise.resolve(replica),
      reopen: () => Promise.resolve(replica),
      stopped: () => false,
    });
    assert.equal(done.store.history, OURS);
  });

  it('of a replica holding records of another history is not replaced by an answer', () => {
    const replica = new MemoryStore(Date.now, new MemoryLog()).replication!;
    adoptHistory(replica, OURS, 12);
    assert.equal(replica.history, OURS, 'a replica without an id takes its leader’s');
    adoptHistory(replica, THEIRS, 12);
    assert.equal(replica.history, OURS);
  });
});

describe('a history across a failover on one worker', () => {
  const root = tempDir(after);

  it('is taken by the replica from its leader, kept by it once promoted, and followed by the old leader without a fork', async () => {
    const leaderSpec: StoreSpec = { ...inDir(join(root, 'a'), 'leader'), index: 0, node: '127.0.0.1:1' };
    const replicaSpec = localReplicaSpec(join(root, 'b'), 1, '127.0.0.1:2', 0);
    const a = new MemoryStore(Date.now, new MemoryLog());
    const bStore = new MemoryStore(Date.now, new MemoryLog());
    const host = testReplicationHost(
      new Map([
        [0, { spec: leaderSpec, store: a }],
        [1, { spec: replicaSpec, store: bStore }],
      ]),
    );
    host.start();
    after(() => host.stop());
    const id = a.replication!.history;
    assert.match(String(id), /^[0-9a-f]{32}$/, 'the leader began its history');
    const first = await a.put(b('k1'), b('v1'));
    assert.equal(await host.waitForAcks(0, first.seq, 1, 3000), 1);
    assert.equal(bStore.replication!.history, id, 'the replica took its leader’s history');

    await host.setRole(0, {
      ...leaderSpec,
      role: 'replica',
      replication: { ...replicaSpec.replication!, leaderAddress: '127.0.0.1:2', leaderStore: 1 },
    });
    await host.setRole(1, { ...replicaSpec, role: 'leader' });
    assert.equal(bStore.replication!.history, id, 'the promoted replica continues the history');
    const next = await bStore.put(b('k2'), b('v2'));
    assert.equal(await host.waitForAcks(1, next.seq, 1, 3000), 1, 'the old leader follows the new one');
    assert.equal(host.statsOf(0).divergedFiles, 0, 'the old leader was told it forked');
    assert.equal(host.statsOf(0).history, id, '/stats shows each store’s history id');
    assert.equal(host.statsOf(1).history, id);
  });
});
