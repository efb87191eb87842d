/**
 * CLUSTER SHARDS takes the offsets of replicas elsewhere from the stats of this process's leader
 * stores (src/resp/commands-cluster.ts, cluster-figures.ts). Its stats round was bounded as a
 * whole: one worker alive but silent dropped every worker's figures, and each replica elsewhere
 * showed offset 0, its master's other stores' word on its pulls thrown away with the silent one's.
 * Each worker's call is now bounded on its own (store-stats.ts `answeredStats`): the stores of the
 * workers that answered keep their figures. DBSIZE, whose count must be the total, still answers
 * -TRYAGAIN when a worker is silent.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/validate-config.js';
import { cluster } from '../../src/resp/commands-cluster.js';
import { dbsize } from '../../src/resp/commands-keyspace.js';
import type { LocalTarget } from '../../src/resp/key-route.js';
import type { RespConnection } from '../../src/resp/resp-connection.js';
import { STATS_WAIT_MS } from '../../src/resp/store-stats.js';
import { Positions, SLOT_LAST_SEQ } from '../../src/replication/positions.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { fakeNodeConnection, takeReply } from '../helpers/fake-resp-connection.js';

const A = '127.0.0.1:7001';
const C = '127.0.0.1:7003';
const D = '127.0.0.1:7004';
// A leads both shards, shard-0 on worker 0 (replica C), shard-1 on worker 1 (replica D).
const config = validateConfig(
  {
    shards: [
      { name: 'shard-0', idx: 0, address: A, replicas: [C], slots: '0-8191' },
      { name: 'shard-1', idx: 1, address: A, replicas: [D], slots: '8192-16383' },
    ],
  },
  '<test>',
);
const shardMap = new ShardMap(config.shards);

/** STATS are each worker's answer: its leader store's keys and its replica's last pull. */
const STATS = [
  {
    type: 'stats-result',
    stores: [{ index: 0, stats: { keys: 3, replicas: [{ replica: C, ack: 28, lastSeenMsAgo: 100 }] } }],
  },
  {
    type: 'stats-result',
    stores: [{ index: 1, stats: { keys: 5, replicas: [{ replica: D, ack: 9, lastSeenMsAgo: 100 }] } }],
  },
];

/** nodeA is A's connection in a process of two workers; those in `silent` never answer a call. */
function nodeA(silent: ReadonlySet<number>): RespConnection {
  const p = new Positions(new SharedArrayBuffer(Positions.bytesFor(2)));
  p.set(0, SLOT_LAST_SEQ, 30);
  p.set(1, SLOT_LAST_SEQ, 12);
  const call = (w: number): Promise<unknown> =>
    silent.has(w) ? new Promise(() => undefined) : Promise.resolve(STATS[w]);
  const target = (s: number): LocalTarget => ({
    local: true,
    worker: s,
    store: s,
    role: 'leader',
    leaderStore: s,
  });
  const targets = [target(0), target(1)];
  return fakeNodeConnection(
    config,
    shardMap,
    { address: A, port: 7001, reads: targets, writes: targets },
    {
      liveEpochs: () => new Map(),
      draining: () => false,
      leaderWithoutLease: () => false,
      plan: {
        stores: [
          { index: 0, node: A, role: 'leader', shard: { idx: 0 } },
          { index: 1, node: A, role: 'leader', shard: { idx: 1 } },
        ],
      },
      pool: {
        lastSeq: (i: number) => p.get(i, SLOT_LAST_SEQ),
        positions: p,
        size: 2,
        call,
        callAll: () => Promise.all([0, 1].map(call)),
      },
    },
  );
}

/** replyWithin runs `run` at `c` and waits up to `ms` for its reply ('' when none came). */
async function replyWithin(c: RespConnection, ms: number, run: () => void): Promise<string> {
  run();
  const until = performance.now() + ms;
  for (;;) {
    const out = takeReply(c);
    if (out !== '' || performance.now() >= until) return out;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** offsets are CLUSTER SHARDS's replication offsets at `c`, in reply order. */
async function offsets(c: RespConnection): Promise<number[]> {
  const reply = await replyWithin(c, STATS_WAIT_MS + 2000, () => {
    cluster(c, [Buffer.from('CLUSTER'), Buffer.from('SHARDS')]);
  });
  return [...reply.matchAll(/\$18\r\nreplication-offset\r\n:(\d+)\r\n/g)].map((m) => Number(m[1]));
}

describe('CLUSTER SHARDS while one worker of several does not answer its stats', () => {
  it('gives the replica offsets every worker reported when all answer', async () => {
    // Entry shard-0: A 30, C 28; entry shard-1: A 12, D 9.
    assert.deepEqual(await offsets(nodeA(new Set())), [30, 28, 12, 9]);
  });

  it("keeps the answering worker's figures and leaves out only the silent one's", async () => {
    assert.deepEqual(
      await offsets(nodeA(new Set([1]))),
      [30, 28, 12, 0],
      "C's offset is shard-0's leader store's word, which worker 0 gave in time",
    );
  });

  it('DBSIZE still answers TRYAGAIN within the bound: its count must be the total', async () => {
    const c = nodeA(new Set([1]));
    const reply = await replyWithin(c, STATS_WAIT_MS + 2000, () => {
      dbsize(c);
    });
    assert.match(reply, /^-TRYAGAIN .*did not answer within/);
    const all = nodeA(new Set());
    assert.equal(
      await replyWithin(all, 1000, () => {
        dbsize(all);
      }),
      ':8\r\n',
    );
  });
});
