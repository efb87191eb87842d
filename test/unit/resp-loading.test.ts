/**
 * A RESP listener of a node that is starting (its stores are opening: RespContext.loading) answers
 * as a redis-server loading its dataset: the commands with Redis's `loading` flag run (HELLO, AUTH,
 * CLIENT, INFO, COMMAND, CONFIG, ...), every other one, PING and CLUSTER included as in Redis,
 * gets `-LOADING Redis is loading the dataset in memory` without reaching a store, and
 * `INFO persistence` says `loading:1`. Before, the node listened for RESP only once its stores
 * were open, and the clients its peers sent there with -MOVED got a refused connection.
 *
 * ioredis waits it out: its ready check reads `loading:1` and asks again a second later, holding
 * the commands (test below); its cluster client, whose slot refresh (CLUSTER SLOTS) gets -LOADING,
 * retries its connection (clusterRetryStrategy) and serves once the node does.
 *
 * Over loopback, with a RespListener on a fake worker pool.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import type { OpHandler } from '../../src/server/worker-pool.js';
import type { RespListener } from '../../src/resp/resp-listener.js';
import { ST_VALUE } from '../../src/worker/op-format.js';
import { freePort } from '../helpers/ports.js';
import { oneShardListener } from '../helpers/resp-one-shard.js';
import { RespConn } from '../helpers/resp-conn.js';

const LOADING = '-LOADING Redis is loading the dataset in memory\r\n';

/** Starting is a listener of a node that starts until `serve()`; `ops` counts what reached the pool. */
interface Starting {
  l: RespListener;
  ops: () => number;
  serve: () => void;
}

async function starting(): Promise<Starting> {
  let loading = true;
  let ops = 0;
  const pool = {
    inFlight: 0,
    submit(_w: number, _op: number, _s: number, _k: Uint8Array, _v: unknown, handler: OpHandler): void {
      ops++;
      setImmediate(() => {
        handler.onReply(ST_VALUE, 0, Buffer.from('v'));
      });
    },
    lastSeq: () => 0,
    storeFailure: () => undefined,
    call: () => Promise.resolve({ type: 'expiry-census-result', count: 0, ttlSumMs: 0, next: null }),
    callAll(): Promise<unknown[]> {
      ops++;
      return Promise.resolve([]);
    },
  };
  const l = oneShardListener(pool, await freePort(), { loading: () => loading });
  await l.listen();
  return {
    l,
    ops: () => ops,
    serve: () => {
      loading = false;
    },
  };
}

describe('RESP while the node starts', () => {
  it('answers -LOADING to data commands and runs the handshake and introspection ones', async () => {
    const { l, ops, serve } = await starting();
    const conn = await RespConn.open(l.endpoint);
    try {
      const refused = await conn.send([
        ['GET', 'k'],
        ['SET', 'k', 'v'],
        ['get', 'k'],
        ['MGET', 'k', 'k'],
        ['DBSIZE'],
        ['SCAN', '0'],
        ['PING'],
        ['CLUSTER', 'SLOTS'],
      ]);
      assert.deepEqual(refused, Array<string>(refused.length).fill(LOADING));
      const [hello, auth, setname, id, command, config_, info, time] = await conn.send([
        ['HELLO', '2'],
        ['AUTH', 'secret'],
        ['CLIENT', 'SETNAME', 'app'],
        ['CLIENT', 'ID'],
        ['COMMAND', 'COUNT'],
        ['CONFIG', 'GET', 'maxclients'],
        ['INFO', 'persistence'],
        ['TIME'],
      ]);
      assert.match(hello!, /^\*14\r\n/);
      assert.match(auth!, /^-ERR AUTH <password> called without any password configured/);
      assert.equal(setname, '+OK\r\n');
      assert.match(id!, /^:\d+\r\n$/);
      assert.match(command!, /^:\d+\r\n$/);
      assert.match(config_!, /^\*2\r\n/);
      assert.match(info!, /\r\nloading:1\r\n/);
      assert.match(time!, /^\*2\r\n/);
      assert.equal(ops(), 0, 'no store was asked while they are opening');

      serve();
      const [get, after] = await conn.send([
        ['GET', 'k'],
        ['INFO', 'persistence'],
      ]);
      assert.equal(get, '$1\r\nv\r\n');
      assert.match(after!, /\r\nloading:0\r\n/);
    } finally {
      conn.close();
      l.close();
    }
  });

  it("holds ioredis's commands until the node serves (its ready check reads loading:1)", async () => {
    const { l, serve } = await starting();
    const client = new Redis({ ...l.endpoint, maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    try {
      let settled = false;
      const get = client.get('k').finally(() => {
        settled = true;
      });
      await sleep(300);
      assert.equal(settled, false, 'held, neither answered nor failed, while the node starts');
      serve();
      assert.equal(await get, 'v');
    } finally {
      client.disconnect();
      l.close();
    }
  });

  it("serves ioredis's cluster client once the node serves, its CLUSTER SLOTS refused until then", async () => {
    const { l, serve } = await starting();
    // CLUSTER SLOTS names the node's RESP address of the config; the listener is elsewhere.
    const natMap = { '127.0.0.1:8001': l.endpoint };
    const client = new Cluster([l.endpoint], { natMap, clusterRetryStrategy: () => 100 });
    client.on('error', () => undefined);
    try {
      let settled = false;
      const get = client.get('k').finally(() => {
        settled = true;
      });
      await sleep(500);
      assert.equal(settled, false, 'held, neither answered nor failed, while the node starts');
      serve();
      assert.equal(await Promise.race([get, sleep(10000).then(() => 'no answer in 10 s')]), 'v');
    } finally {
      client.disconnect();
      l.close();
    }
  });
});
