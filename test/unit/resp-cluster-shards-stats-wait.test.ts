/**
 * CLUSTER SHARDS waits for every worker's stats before it answers (src/resp/commands-cluster.ts,
 * `shardsLater`: the offsets of replicas elsewhere come from the leader stores' stats). A worker
 * that is restarting rejects the call at once and the answer comes without those offsets; but a
 * worker that is alive and does not answer (its thread busy in a long synchronous step) holds
 * CLUSTER SHARDS, with no bound, and every reply pipelined after it on the connection. Before, it
 * answered at once from the main thread: a cluster client's topology refresh does not expect the
 * topology command to wait on the data path. The reply should come within a bound, without the
 * figures a silent worker would have given. INFO (and DBSIZE) made the same unbounded stats round:
 * it answers TRYAGAIN within the bound, as it does when a worker is restarting.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/validate-config.js';
import { cluster } from '../../src/resp/commands-cluster.js';
import { info } from '../../src/resp/commands-info.js';
import { STATS_WAIT_MS } from '../../src/resp/store-stats.js';
import { Positions } from '../../src/replication/positions.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import type { RespConnection } from '../../src/resp/resp-connection.js';
import { fakeNodeConnection, infoContext, takeReply } from '../helpers/fake-resp-connection.js';

const A = '127.0.0.1:7001';
const C = '127.0.0.1:7003';
const config = validateConfig(
  { shards: [{ name: 'shard-0', idx: 0, address: A, replicas: [C], slots: '0-16383' }] },
  '<test>',
);
const shardMap = new ShardMap(config.shards);

/** node is A's connection in a process of one worker, which answers `stats` with `callAll()`. */
function node(callAll: () => Promise<unknown>): RespConnection {
  const p = new Positions(new SharedArrayBuffer(Positions.bytesFor(1)));
  const remote = shardMap.shards.map((s) => ({ local: false, address: s.address }) as const);
  return fakeNodeConnection(
    config,
    shardMap,
    { address: A, port: 7000, reads: remote, writes: remote },
    {
      ...infoContext(),
      liveEpochs: () => new Map(),
      plan: { stores: [{ index: 0, node: A, role: 'leader', shard: { idx: 0 } }] },
      pool: {
        lastSeq: () => 0,
        positions: p,
        size: 1,
        call: () => callAll().then((r) => (r as unknown[])[0]),
        callAll,
      },
    },
  );
}

/** replyWithin waits up to `ms` for the reply at `c` of CLUSTER SHARDS (or of `run`) ('' when none came). */
async function replyWithin(
  c: RespConnection,
  ms: number,
  run = (): void => {
    cluster(c, [Buffer.from('CLUSTER'), Buffer.from('SHARDS')]);
  },
): Promise<string> {
  run();
  const until = performance.now() + ms;
  for (;;) {
    const out = takeReply(c);
    if (out !== '' || performance.now() >= until) return out;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('CLUSTER SHARDS while a worker does not answer', () => {
  it('answers at once when a worker is restarting (its call is rejected)', async () => {
    const c = node(() => Promise.reject(new Error('shard worker 0 is not running')));
    assert.match(await replyWithin(c, 1000), /replication-offset/);
  });

  it('answers within the stats bound when a worker is alive but does not answer its stats call', async () => {
    const c = node(() => new Promise(() => undefined));
    const reply = await replyWithin(c, STATS_WAIT_MS + 2000);
    assert.match(
      reply,
      /replication-offset/,
      'CLUSTER SHARDS got no reply in 3 s: it waits for the worker without a bound',
    );
  });

  it('INFO answers TRYAGAIN within the stats bound when a worker is alive but does not answer its stats call', async () => {
    const c = node(() => new Promise(() => undefined));
    const reply = await replyWithin(c, STATS_WAIT_MS + 2000, () => {
      info(c, [Buffer.from('INFO'), Buffer.from('replication')]);
    });
    assert.match(
      reply,
      /^-TRYAGAIN .*did not answer within/,
      'INFO got no reply in 3 s: it waits for the worker without a bound',
    );
  });
});
