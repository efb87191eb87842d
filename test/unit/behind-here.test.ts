/**
 * A replica in the same process as its leader, ahead of a leader that started behind it (an empty
 * or older store: src/server/behind-here.ts). It follows through its worker (LocalSource) or a ring,
 * never through `/_repl/pull`'s check: its first pull told it it was ahead of the empty leader, it
 * resynced from it and its records were gone. Now its worker refuses its pulls ahead of a leader
 * watched from its start until that leader takes a write, the node reads its position as a peer's
 * and holds the shard, and a pull heard before the node watches waits for it.
 * The e2e side is test/e2e/load-replica-only-same-process.test.ts.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { parseConfigText } from '../../src/config/load-config.js';
import { LocalSource } from '../../src/replication/local-source.js';
import type { Pulled } from '../../src/replication/source.js';
import { flagWatchedLeaders } from '../../src/server/behind-here.js';
import { BehindLeaders } from '../../src/server/behind-leaders.js';
import { MapKeeper } from '../../src/server/map-keeper.js';
import type { NodePlan } from '../../src/server/node-plan.js';
import type { CallMessage } from '../../src/server/worker-pool.js';
import { MemoryLog } from '../../src/storage/memory-log.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import type { ReplicaSpec } from '../../src/worker/messages.js';
import { tempDir } from '../helpers/temp-dir.js';

const A = '127.0.0.1:7001';
const B = '127.0.0.1:7002';
const b = (s: string): Buffer => Buffer.from(s);

type Planned = NodePlan['stores'][number];

/** node is a keeper where A leads shard-0 with replica B, both stores in this process, and a fake pool. */
function node(seqs: number[]): {
  keeper: MapKeeper;
  stores: Planned[];
  pool: { seqs: number[]; fences: boolean[] };
  behind: BehindLeaders;
} {
  const config = parseConfigText(
    `[server]\ndata_dir = "${tempDir(after)}"\n[[shards]]\nname = "shard-0"\nidx = 0\naddress = "${A}"\nreplicas = ["${B}"]\n`,
    't.toml',
    {},
    {},
  );
  const keeper = new MapKeeper(config, pino({ level: 'silent' }));
  const pool = { seqs, fences: [] as boolean[] };
  const fake = {
    call: (_worker: number, msg: CallMessage) => {
      assert.equal(msg.type, 'fence');
      pool.fences.push((msg as { on: boolean }).on);
      return Promise.resolve({
        type: 'fence-result' as const,
        id: 0,
        ok: true as const,
        lastSeq: pool.seqs[0]!,
      });
    },
    lastSeq: (i: number) => pool.seqs[i]!,
    storeFailure: () => undefined,
  };
  const shard = config.shards[0]!;
  const stores = [
    { index: 0, worker: 0, node: A, role: 'leader', dir: '/a', shard },
    { index: 1, worker: 0, node: B, role: 'replica', dir: '/b', shard, replication: { leaderStore: 0 } },
  ] as unknown as Planned[];
  const behind = new BehindLeaders(keeper, fake, pino({ level: 'silent' }));
  return { keeper, stores, pool, behind };
}

describe("a leader's worker with a replica ahead of it (LocalSource)", () => {
  it('refuses its pulls while the leader, watched from its start, has taken no write', async () => {
    const leader = new MemoryStore(Date.now, new MemoryLog());
    const source = new LocalSource(() => leader.replication, 'local store 0', undefined, undefined, true);
    await assert.rejects(source.pull(200, 1 << 20, 0), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'LEADER_BEHIND');
      assert.match(err.message, /holds records through seq 0 only and took no write since it opened/);
      return true;
    });
    const at0 = (await source.pull(0, 1 << 20, 0)) as Pulled;
    assert.equal(at0.records.length, 0, 'a replica not ahead is served');
    // A leader that took a write is watched no more: a replica ahead of it holds another history.
    await leader.put(b('k'), b('v'));
    assert.equal(await source.pull(200, 1 << 20, 0), 'diverged');
  });

  it('tells a replica ahead of a leader not watched from its start that it diverged, as before', async () => {
    const leader = new MemoryStore(Date.now, new MemoryLog());
    const source = new LocalSource(() => leader.replication, 'local store 0');
    assert.equal(await source.pull(200, 1 << 20, 0), 'diverged');
  });
});

describe('flagWatchedLeaders', () => {
  const spec = (leaderStore: number | undefined): Planned =>
    ({ index: 9, replication: { leaderStore } }) as unknown as Planned;
  const flagged = (st: Planned): boolean | undefined => (st.replication as ReplicaSpec).leaderWatched;

  it('tells a replica its leader here is watched: started empty, or after a stop that was not lossy', () => {
    const stores = [spec(0), spec(1), spec(undefined)];
    flagWatchedLeaders(stores, new Set([0]), true);
    assert.deepEqual(stores.map(flagged), [true, undefined, undefined]);
    const clean = [spec(1)];
    flagWatchedLeaders(clean, new Set(), false);
    assert.deepEqual(clean.map(flagged), [true]);
  });
});

describe("BehindLeaders reading this process's replicas", () => {
  it('holds an empty leader behind its replica here, naming it and the failover to run', async () => {
    const { keeper, stores, pool, behind } = node([0, 200]);
    behind.watch(stores, new Set([0]), false);
    await behind.fromHere();
    assert.deepEqual(keeper.behindOf(0), { replica: B, seq: 200, leaderSeq: 0 });
    assert.deepEqual(pool.fences, [true]);
    assert.match(keeper.behindError(0)!.message, new RegExp(`distkv failover --shard shard-0 --to ${B}`));
  });

  it('leaves a leader alone when its replica here holds no more than it', async () => {
    const { keeper, stores, pool, behind } = node([0, 0]);
    behind.watch(stores, new Set([0]), false);
    await behind.fromHere();
    assert.equal(keeper.behindOf(0), undefined);
    assert.deepEqual(pool.fences, []);
  });

  it('has a pull heard before the stores are watched wait for the check, then refused as held', async () => {
    const { keeper, stores, behind } = node([0, 200]);
    let settled = false;
    const check = behind.pulled(0, B, 200, '127.0.0.1');
    assert.ok(check !== undefined);
    void check.then(() => {
      settled = true;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(settled, false, 'answered before the leader could be held, the replica was told to resync');
    behind.watch(stores, new Set([0]), false);
    // The pull's claim is confirmed here (the replica's store in this process is read): held.
    assert.equal(await check, undefined);
    assert.deepEqual(keeper.behindOf(0), { replica: B, seq: 200, leaderSeq: 0 });
  });
});
