/**
 * INFO memory's `used_memory` (src/resp/commands-info.ts) counts the stores' memory, the memtables
 * above all (their `memBytes` in /stats, docs/operations.md "Memory"), with the main thread's heap:
 * it was that heap alone, a few MB of a process whose memtables held GBs (`redis-cli --stat` shows
 * it as the memory in use).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/validate-config.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { fakeNodeConnection, infoContext, infoReply } from '../helpers/fake-resp-connection.js';

const A = '127.0.0.1:7001';
const config = validateConfig({ shards: [{ name: 'shard-0', idx: 0, address: A }] }, '<test>');
const shardMap = new ShardMap(config.shards);
const GIB = 1 << 30;

/** memoryLines runs INFO memory at a node whose two stores hold `memBytes` each, and returns its lines. */
async function memoryLines(memBytes: number[]): Promise<Map<string, number>> {
  const targets = shardMap.shards.map((s) => ({ local: false, address: s.address }) as const);
  const c = fakeNodeConnection(
    config,
    shardMap,
    { address: A, port: 7001, reads: targets, writes: targets },
    {
      ...infoContext(),
      plan: { stores: memBytes.map((_, index) => ({ index, node: A, role: 'leader', shard: { idx: 0 } })) },
      pool: {
        lastSeq: () => 1,
        callAll: () =>
          Promise.resolve([
            {
              type: 'stats-result',
              stores: memBytes.map((m, index) => ({ index, stats: { keys: 1, memBytes: m } })),
            },
          ]),
      },
    },
  );
  const lines = (await infoReply(c, 'memory')).split('\r\n');
  return new Map(
    lines
      .filter((l) => l.includes(':'))
      .map((l) => [l.slice(0, l.indexOf(':')), Number(l.slice(l.indexOf(':') + 1))]),
  );
}

describe('INFO memory figures', () => {
  it("counts the stores' memory in used_memory", async () => {
    const heap = process.memoryUsage().heapUsed;
    const m = await memoryLines([GIB, 512 * 1024 * 1024]);
    const used = m.get('used_memory') ?? 0;
    assert.ok(used >= GIB + 512 * 1024 * 1024, `used_memory ${used} lacks the stores' 1.5 GiB`);
    assert.ok(used < GIB + 512 * 1024 * 1024 + 4 * heap, `and adds the main heap only: ${used}`);
  });
});
