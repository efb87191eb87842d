/**
 * BehindLeaders (src/server/behind-leaders.ts): a store that leads its shard here and took no write
 * since it started is held behind a replica that holds more (LEADER_BEHIND), unless it took a write
 * first: one that started empty in any epoch, another after a clean stop in its start epoch only; a
 * replica at or below it, a store after a lossy stop, or one that follows is left alone; a peer's
 * /cluster document is read for its replica stores' positions. The e2e side is
 * test/e2e/behind-leader.test.ts.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { parseConfigText } from '../../src/config/load-config.js';
import { replicaPositions } from '../../src/server/behind-confirm.js';
import { BehindLeaders } from '../../src/server/behind-leaders.js';
import { MapKeeper } from '../../src/server/map-keeper.js';
import type { NodePlan } from '../../src/server/node-plan.js';
import type { CallMessage } from '../../src/server/worker-pool.js';
import { tempDir } from '../helpers/temp-dir.js';

const A = '127.0.0.1:7001';
const B = '127.0.0.2:7001';

/**
 * setup is a keeper where A leads shard-0 with replica B, a fake pool whose store holds `startSeq`,
 * and the store of `node` watched as one that started empty (`startSeq` 0) or not, after a `lossy` stop or not.
 */
function setup(
  node = A,
  startSeq = 0,
  lossy = false,
): {
  keeper: MapKeeper;
  empty: BehindLeaders;
  pool: { seq: number; fences: boolean[]; seqAtFence: number | undefined };
} {
  const config = parseConfigText(
    `[server]\ndata_dir = "${tempDir(after)}"\n[[shards]]\nname = "shard-0"\nidx = 0\naddress = "${A}"\nreplicas = ["${B}"]\n`,
    't.toml',
    {},
    {},
  );
  const keeper = new MapKeeper(config, pino({ level: 'silent' }));
  const pool = { seq: startSeq, fences: [] as boolean[], seqAtFence: undefined as number | undefined };
  const fake = {
    call: (_worker: number, msg: CallMessage) => {
      assert.equal(msg.type, 'fence');
      const on = (msg as { on: boolean }).on;
      pool.fences.push(on);
      // A write in flight when the fence came lands before it answers.
      if (on && pool.seqAtFence !== undefined) pool.seq = pool.seqAtFence;
      return Promise.resolve({ type: 'fence-result' as const, id: 0, ok: true as const, lastSeq: pool.seq });
    },
    lastSeq: () => pool.seq,
    storeFailure: () => undefined,
  };
  const empty = new BehindLeaders(keeper, fake, pino({ level: 'silent' }));
  const st = {
    index: 0,
    worker: 0,
    node,
    role: node === A ? 'leader' : 'replica',
    dir: '/x',
    shard: config.shards[0]!,
  };
  empty.watch([st as unknown as NodePlan['stores'][number]], new Set(startSeq === 0 ? [0] : []), lossy);
  return { keeper, empty, pool };
}

describe('BehindLeaders', () => {
  it('holds an empty leader behind a replica with records, naming it and the failover to run', async () => {
    const { keeper, empty, pool } = setup();
    assert.equal(empty.sighted(0, B, 0), undefined, 'a replica at 0 holds nothing');
    await empty.sighted(0, B, 42);
    assert.deepEqual(pool.fences, [true], "the leader's writes are fenced, and stay so");
    assert.deepEqual(keeper.behindOf(0), { replica: B, seq: 42, leaderSeq: 0 });
    assert.equal(keeper.writesFenced(0), true);
    const e = keeper.behindError(0);
    assert.equal(e?.code, 'LEADER_BEHIND');
    assert.match(
      e.message,
      /started on an empty store, but its replica 127\.0\.0\.2:7001 holds records through seq 42/,
    );
    assert.match(e.message, /distkv failover --shard shard-0 --to 127\.0\.0\.2:7001/);
    assert.equal(empty.sighted(0, B, 50), undefined, 'held once');
    assert.equal(keeper.behindOf(0)?.seq, 50, 'naming the most advanced replica seen');
  });

  it('holds a leader that started with fewer records than its replica after a clean stop', async () => {
    const { keeper, empty, pool } = setup(A, 10);
    assert.equal(empty.sighted(0, B, 10), undefined, 'a replica level with it');
    await empty.sighted(0, B, 12);
    assert.deepEqual(pool.fences, [true]);
    assert.deepEqual(keeper.behindOf(0), { replica: B, seq: 12, leaderSeq: 10 });
    assert.match(keeper.behindError(0)!.message, /started with records through seq 10 only/);
  });

  it('answers SWITCHING_LEADER once its coordinator gave up the leader key for the replica', async () => {
    const { keeper, empty } = setup();
    let handsOver = false;
    keeper.coordinate({
      mayWrite: () => false,
      publish: (m) => Promise.resolve(m),
      handsOver: () => handsOver,
    });
    await empty.sighted(0, B, 42);
    assert.equal(keeper.behindError(0)?.code, 'LEADER_BEHIND', 'the key kept: a person promotes the replica');
    handsOver = true;
    const e = keeper.behindError(0);
    assert.equal(e?.code, 'SWITCHING_LEADER', 'the key given up: clients wait for the replica to take over');
    assert.match(e.message, /127\.0\.0\.2:7001 through seq 42\): it gave up its leader key in etcd/);
    assert.match(e.message, /retry shortly/);
  });

  it('leaves alone a leader after a lossy stop (its restart epoch forks the replica)', () => {
    const { empty, pool } = setup(A, 10, true);
    assert.equal(empty.sighted(0, B, 12), undefined);
    assert.deepEqual(pool.fences, []);
  });

  it('lets a leader that took a write first lead, releasing its fence, and watches it no more', async () => {
    const { keeper, empty, pool } = setup();
    pool.seqAtFence = 1;
    await empty.sighted(0, B, 42);
    assert.deepEqual(pool.fences, [true, false]);
    assert.equal(keeper.behindOf(0), undefined);
    assert.equal(keeper.writesFenced(0), false);
    assert.equal(empty.sighted(0, B, 42), undefined);
  });

  it('leaves alone a store that follows, and one with records', () => {
    const follower = setup(B);
    assert.equal(follower.empty.sighted(0, A, 42), undefined);
    const written = setup(A, 5);
    written.pool.seq = 6;
    assert.equal(written.empty.sighted(0, B, 42), undefined);
    assert.deepEqual(written.pool.fences, []);
  });

  it("reads a peer's /cluster for its replica stores' positions", async () => {
    const doc = {
      shards: [
        { idx: 0, replicas: [{ address: B, local: true, acked_seq: 7 }] },
        { idx: 1, replicas: [{ address: B, local: false }] },
        { idx: 'x', replicas: [] },
        null,
      ],
    };
    assert.deepEqual(replicaPositions(doc), [{ idx: 0, address: B, seq: 7 }]);
    assert.deepEqual(replicaPositions(null), []);
    assert.deepEqual(replicaPositions({ shards: 3 }), []);
    const { keeper, empty } = setup();
    await empty.fromPeer(doc);
    assert.deepEqual(keeper.behindOf(0), { replica: B, seq: 7, leaderSeq: 0 });
  });
});
