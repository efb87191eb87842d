/**
 * INFO keyspace's census of the keys with an expiry (src/resp/keyspace-expiries.ts) waited for the
 * workers without a bound: a worker that answered the stats round but then went silent (its thread
 * in a long synchronous step) held the INFO reply, and every reply pipelined behind it on the
 * connection, for as long as it stayed silent. Each page of the census now waits at most the stats
 * round's bound (STATS_WAIT_MS), and INFO answers -TRYAGAIN past it, as when the stats time out;
 * the bound is per page, so a census of many pages, each answered in time, still completes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/validate-config.js';
import { info } from '../../src/resp/commands-info.js';
import { KeyspaceExpiries } from '../../src/resp/keyspace-expiries.js';
import type { LocalTarget } from '../../src/resp/key-route.js';
import type { RespConnection } from '../../src/resp/resp-connection.js';
import { STATS_WAIT_MS } from '../../src/resp/store-stats.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import type { WorkerPool } from '../../src/server/worker-pool.js';
import { fakeNodeConnection, infoContext, takeReply } from '../helpers/fake-resp-connection.js';

const A = '127.0.0.1:7001';
const config = validateConfig(
  { shards: [{ name: 'shard-0', idx: 0, address: A, slots: '0-16383' }] },
  '<test>',
);
const TARGET: LocalTarget = { local: true, worker: 0, store: 0, role: 'leader', leaderStore: 0 };

/** CensusCall answers one page of a census (or never, when it returns a promise that never settles). */
type CensusCall = () => Promise<unknown>;

/** censusPool is a pool of one worker that answers stats at once and census pages with `page`. */
function censusPool(page: CensusCall): Pick<WorkerPool, 'call' | 'lastSeq'> & Record<string, unknown> {
  return {
    lastSeq: () => 1,
    call: page as WorkerPool['call'],
    callAll: () => Promise.resolve([{ type: 'stats-result', stores: [{ index: 0, stats: { keys: 4 } }] }]),
  };
}

/** nodeA is a connection to A, which leads its one shard on store 0, its census made on `pool`. */
function nodeA(pool: Pick<WorkerPool, 'call' | 'lastSeq'>): RespConnection {
  const shardMap = new ShardMap(config.shards);
  return fakeNodeConnection(
    config,
    shardMap,
    { address: A, port: 7001, reads: [TARGET], writes: [TARGET] },
    {
      ...infoContext(),
      plan: { stores: [{ node: A, shard: { idx: 0 } }] },
      pool,
      expiries: new KeyspaceExpiries(pool),
    },
  );
}

/** replyWithin runs INFO keyspace at `c` and waits up to `ms` for its reply ('' when none came). */
async function replyWithin(c: RespConnection, ms: number): Promise<string> {
  info(c, [Buffer.from('INFO'), Buffer.from('keyspace')]);
  const until = performance.now() + ms;
  for (;;) {
    const out = takeReply(c);
    if (out !== '' || performance.now() >= until) return out;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const NEVER: CensusCall = () => new Promise(() => undefined);

describe('INFO keyspace while a worker does not answer its expiry census', () => {
  it('answers TRYAGAIN within the stats bound when the worker answered its stats but not a census page', async () => {
    const c = nodeA(censusPool(NEVER));
    const started = performance.now();
    const reply = await replyWithin(c, STATS_WAIT_MS + 2000);
    assert.match(
      reply,
      /^-TRYAGAIN the expiry census of store 0 did not answer within \d+ ms/,
      'INFO got no reply: the census waits for the worker without a bound',
    );
    assert.ok(performance.now() - started >= STATS_WAIT_MS - 50, 'it did not wait for the bound');
  });

  it('walks again at the next INFO, and counts once the worker answers', async () => {
    let silent = true;
    const c = nodeA(
      censusPool(() =>
        silent
          ? NEVER()
          : Promise.resolve({ type: 'expiry-census-result', count: 2, ttlSumMs: 8000, next: null }),
      ),
    );
    assert.match(await replyWithin(c, STATS_WAIT_MS + 2000), /^-TRYAGAIN /);
    silent = false;
    const reply = await replyWithin(c, 1000);
    assert.match(reply, /db0:keys=4,expires=2,avg_ttl=4000/, reply);
  });
});

describe('KeyspaceExpiries page bound', () => {
  it('fails a census whose page is not answered within the bound', async () => {
    const e = new KeyspaceExpiries(censusPool(NEVER), Date.now, 100);
    await assert.rejects(e.count([TARGET]), /the expiry census of store 0 did not answer within 100 ms/);
  });

  it('completes a census of many pages that takes longer than the bound, each page answered within it', async () => {
    let page = 0;
    const pool = censusPool(
      () =>
        new Promise((resolve) =>
          setTimeout(() => {
            page++;
            resolve({
              type: 'expiry-census-result',
              count: 1,
              ttlSumMs: 1000,
              next: page < 6 ? Buffer.from(`k${page}`) : null,
            });
          }, 40),
        ),
    );
    const e = new KeyspaceExpiries(pool, Date.now, 100);
    assert.deepEqual(await e.count([TARGET]), { expires: 6, avgTtlMs: 1000 });
  });
});
