/**
 * INFO keyspace at a node one of whose leader stores answers no reads (src/resp/commands-info.ts):
 * a planned failover holds its writes (`readsHeld`), or it has no lease. DBSIZE, SCAN, KEYS and
 * RANDOMKEY answer -TRYAGAIN there (a new leader may already hold writes they would miss); INFO is
 * not refused (tools poll it), so its `db0` counts the keys of the other stores only, and
 * `held_slots:N` says how many slots were left out. Before, INFO counted the held store's keys as
 * if it still served them. A store that did not open counts likewise: DBSIZE answered 0 and INFO's
 * keyspace was empty at a node whose every store had failed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/validate-config.js';
import { dbsize } from '../../src/resp/commands-keyspace.js';
import type { LocalTarget } from '../../src/resp/key-route.js';
import type { RespConnection } from '../../src/resp/resp-connection.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { fakeNodeConnection, infoContext, infoReply, takeReply } from '../helpers/fake-resp-connection.js';

const A = '127.0.0.1:7001';
const config = validateConfig(
  {
    shards: [
      { name: 'shard-0', idx: 0, address: A, slots: '0-999' },
      { name: 'shard-1', idx: 1, address: A, slots: '1000-16383' },
    ],
  },
  '<test>',
);
/** KEYS and EXPIRING: what each store holds (store index = shard index). */
const KEYS = [3, 5];
const EXPIRING = [2, 1];

/** Held is which leader stores answer no reads: held by a failover, without a lease, or not open. */
interface Held {
  byFailover?: number;
  leaseless?: number;
  failed?: number[];
}

/** nodeA is a connection to node A, leader of both shards; it records the stores a census was asked about. */
function nodeA(held: Held): { c: RespConnection; censused: number[][] } {
  const censused: number[][] = [];
  const target = (s: number): LocalTarget => ({
    local: true,
    worker: 0,
    store: s,
    role: 'leader',
    leaderStore: s,
  });
  const targets = [target(0), target(1)];
  const shardMap = new ShardMap(config.shards);
  const c = fakeNodeConnection(
    config,
    shardMap,
    { address: A, port: 7001, reads: targets, writes: targets },
    {
      ...infoContext(),
      plan: {
        stores: [
          { node: A, shard: { idx: 0 } },
          { node: A, shard: { idx: 1 } },
        ],
      },
      leaderWithoutLease: (role: string, idx: number) => role === 'leader' && idx === held.leaseless,
      readsHeld: (role: string, idx: number) => role === 'leader' && idx === held.byFailover,
      pool: {
        lastSeq: () => 1,
        storeFailure: (store: number) =>
          held.failed?.includes(store) === true
            ? { code: 'UNAVAILABLE', message: `store shard-${store} (leader on ${A}) could not open: EMFILE` }
            : undefined,
        callAll: () =>
          Promise.resolve([
            { type: 'stats-result', stores: KEYS.map((keys, index) => ({ index, stats: { keys } })) },
          ]),
      },
      expiries: {
        count: (stores: readonly LocalTarget[]) => {
          const asked = stores.map((t) => t.store);
          censused.push(asked);
          const expires = asked.reduce((n, s) => n + (EXPIRING[s] ?? 0), 0);
          return Promise.resolve({ expires, avgTtlMs: expires > 0 ? 5000 : 0 });
        },
      },
    },
  );
  return { c, censused };
}

/** keyspace runs INFO keyspace and returns its lines after the header. */
async function keyspace(c: RespConnection): Promise<string[]> {
  const reply = await infoReply(c, 'keyspace');
  const lines = reply.split('\r\n');
  assert.match(lines[1]!, /^# Keyspace$/, reply);
  return lines.slice(2).filter((l) => l !== '');
}

/** dbsizeOf runs DBSIZE and returns its reply line. */
async function dbsizeOf(c: RespConnection): Promise<string> {
  dbsize(c);
  await new Promise((resolve) => setImmediate(resolve));
  return takeReply(c).split('\r\n')[0]!;
}

describe('INFO keyspace at a node with a leader store that answers no reads', () => {
  it('counts every store served while none is held, as DBSIZE does', async () => {
    const { c, censused } = nodeA({});
    assert.deepEqual(await keyspace(c), ['db0:keys=8,expires=3,avg_ttl=5000']);
    assert.deepEqual(censused, [[0, 1]]);
    assert.equal(await dbsizeOf(c), ':8');
  });

  for (const [why, held] of [
    ['a planned failover holds its writes', { byFailover: 0 }],
    ['it has no lease', { leaseless: 0 }],
  ] as const)
    it(`leaves out the store's keys and expiries and counts its slots as held when ${why}`, async () => {
      const { c, censused } = nodeA(held);
      assert.match(await dbsizeOf(c), /^-TRYAGAIN DBSIZE: shard 0's leader/);
      assert.deepEqual(await keyspace(c), ['db0:keys=5,expires=1,avg_ttl=5000', 'held_slots:1000']);
      assert.deepEqual(censused, [[1]], 'the census walked the held store');
    });

  it('leaves out a store that did not open, and refuses DBSIZE naming its failure', async () => {
    const { c, censused } = nodeA({ failed: [1] });
    assert.equal(
      await dbsizeOf(c),
      '-TRYAGAIN DBSIZE: store shard-1 (leader on 127.0.0.1:7001) could not open: EMFILE',
    );
    assert.deepEqual(await keyspace(c), ['db0:keys=3,expires=2,avg_ttl=5000', 'held_slots:15384']);
    assert.deepEqual(censused, [[0]]);
    const none = nodeA({ failed: [0, 1] });
    assert.match(await dbsizeOf(none.c), /^-TRYAGAIN DBSIZE: store shard-0 .*could not open/);
    assert.deepEqual(await keyspace(none.c), ['held_slots:16384']);
  });

  it('lists no db0 but the held slots when every store served is held', async () => {
    const { c } = nodeA({ byFailover: 0, leaseless: 1 });
    assert.deepEqual(await keyspace(c), ['held_slots:16384']);
  });
});
