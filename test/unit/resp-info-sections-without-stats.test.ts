/**
 * INFO asks the workers for their stores' stats only for the sections that read them (memory,
 * replication, keyspace): `INFO server` (or clients, stats, persistence) of a node with a worker
 * alive but silent answered -TRYAGAIN after STATS_WAIT_MS, though it reads nothing of theirs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/validate-config.js';
import { info } from '../../src/resp/commands-info.js';
import { KeyspaceExpiries } from '../../src/resp/keyspace-expiries.js';
import type { LocalTarget } from '../../src/resp/key-route.js';
import type { RespConnection } from '../../src/resp/resp-connection.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import type { WorkerPool } from '../../src/server/worker-pool.js';
import { fakeNodeConnection, infoContext, takeReply } from '../helpers/fake-resp-connection.js';

const A = '127.0.0.1:7001';
const config = validateConfig(
  { shards: [{ name: 'shard-0', idx: 0, address: A, slots: '0-16383' }] },
  '<test>',
);
const TARGET: LocalTarget = { local: true, worker: 0, store: 0, role: 'leader', leaderStore: 0 };

/** silentNode is a connection to A whose one worker never answers, and the count of what it was asked. */
function silentNode(): { c: RespConnection; asked: () => number } {
  let asked = 0;
  const never = (): Promise<never> => {
    asked++;
    return new Promise(() => undefined);
  };
  const pool = { lastSeq: () => 1, call: never, callAll: never } as unknown as Pick<
    WorkerPool,
    'call' | 'lastSeq'
  >;
  const c = fakeNodeConnection(
    config,
    new ShardMap(config.shards),
    { address: A, port: 7001, reads: [TARGET], writes: [TARGET] },
    {
      ...infoContext(),
      plan: { stores: [{ node: A, shard: { idx: 0 } }] },
      pool,
      expiries: new KeyspaceExpiries(pool),
    },
  );
  return { c, asked: () => asked };
}

/** replyWithin runs INFO with `sections` at `c` and waits up to `ms` for its reply ('' when none came). */
async function replyWithin(c: RespConnection, sections: string[], ms: number): Promise<string> {
  info(c, [Buffer.from('INFO'), ...sections.map((s) => Buffer.from(s))]);
  const until = performance.now() + ms;
  for (;;) {
    const out = takeReply(c);
    if (out !== '' || performance.now() >= until) return out;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('INFO sections that read no store stats, a worker silent', () => {
  it('answers server, clients, stats and persistence at once, asking the workers nothing', async () => {
    const { c, asked } = silentNode();
    const reply = await replyWithin(c, ['server', 'clients', 'stats', 'persistence'], 1000);
    assert.match(reply, /# Server\r\n/, `no reply within 1 s: ${JSON.stringify(reply)}`);
    assert.match(reply, /# Clients\r\n[\s\S]*# Stats\r\n[\s\S]*# Persistence\r\n/);
    assert.equal(asked(), 0);
  });

  it('still asks them for memory (the stores memory is in used_memory)', () => {
    const { c, asked } = silentNode();
    info(c, [Buffer.from('INFO'), Buffer.from('memory')]);
    assert.equal(asked(), 1);
  });
});
