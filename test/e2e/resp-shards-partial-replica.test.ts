/**
 * CLUSTER SHARDS when a master's shards have different replicas: node A leads shard-0 (replicated on
 * R1 and R2) and shard-1 (replicated on R2 only). Redis's shard is a master and replicas that all
 * serve its slots, and clients that read replicas (READONLY) take it so: every replica an entry names
 * must hold every slot of the entry. CLUSTER SHARDS used to list A once with the union of its shards'
 * replicas, so R1 was named for shard-1's slots, where a READONLY read is answered -MOVED.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { defaultSlotRange } from '../../src/config/validate-config.js';
import { TestCluster } from '../helpers/cluster.js';
import { freeNodeAddress, respOf } from '../helpers/resp.js';
import { keyInSlots } from '../helpers/slot-keys.js';
import { tempDir } from '../helpers/temp-dir.js';

let cluster: TestCluster;
let A = '';
let R1 = '';
let R2 = '';

before(async () => {
  [A, R1, R2] = [await freeNodeAddress(), await freeNodeAddress(), await freeNodeAddress()];
  cluster = await TestCluster.start({
    dir,
    shards: [
      { address: A, replicas: [R1, R2] },
      { address: A, replicas: [R2] },
    ],
  });
});

after(async () => {
  await cluster.stop();
});

// Registered after the stop hook, so the servers stop before the directory is removed.
const dir = tempDir(after);

/** client opens an ioredis connection (not a cluster client: it sees -MOVED as an error) to a node's RESP port. */
function client(address: string): Redis {
  const { host, port } = respOf(address);
  return new Redis({ host, port, lazyConnect: false, maxRetriesPerRequest: 2 });
}

/** Entry is one CLUSTER SHARDS entry as a test reads it. */
interface Entry {
  slots: number[];
  /** nodes are "role port" strings, master first. */
  nodes: string[];
}

/** pairs turns a RESP2 flat map (key, value, key, value...) into a Map. */
function pairs(flat: unknown[]): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(String(flat[i]), flat[i + 1]);
  return m;
}

async function shardsOf(address: string): Promise<Entry[]> {
  const r = client(address);
  try {
    const reply = (await r.call('CLUSTER', 'SHARDS')) as unknown[][];
    return reply.map((e) => {
      const m = pairs(e);
      const nodes = (m.get('nodes') as unknown[][]).map((n) => {
        const f = pairs(n);
        return `${String(f.get('role'))} ${String(f.get('port'))}`;
      });
      return { slots: (m.get('slots') as number[]).map(Number), nodes };
    });
  } finally {
    r.disconnect();
  }
}

/** readAt reads `key` at `address` after READONLY, retrying until it has `want` (bounded by a deadline). */
async function readAt(address: string, key: string, want: string): Promise<string | null> {
  const r = client(address);
  try {
    assert.equal(await r.call('READONLY'), 'OK');
    const deadline = Date.now() + 30_000;
    let got: string | null = null;
    while (Date.now() < deadline) {
      got = await r.get(key);
      if (got === want) return got;
      await new Promise((res) => setTimeout(res, 100));
    }
    return got;
  } finally {
    r.disconnect();
  }
}

describe('CLUSTER SHARDS with a replica that follows only some of its master shards', () => {
  it('lists one entry per master and replica set, every node of an entry holding its slots', async () => {
    const s0 = defaultSlotRange(0, 2);
    const s1 = defaultSlotRange(1, 2);
    const port = (a: string): number => respOf(a).port;
    const want: Entry[] = [
      {
        slots: [s0.first, s0.last],
        nodes: [`master ${port(A)}`, `replica ${port(R1)}`, `replica ${port(R2)}`],
      },
      { slots: [s1.first, s1.last], nodes: [`master ${port(A)}`, `replica ${port(R2)}`] },
    ];
    for (const at of [A, R1, R2]) assert.deepEqual(await shardsOf(at), want, `CLUSTER SHARDS at ${at}`);
  });

  it('serves a READONLY read of each entry slots at every replica the entry names', async () => {
    const leader = client(A);
    const entries = await shardsOf(A);
    try {
      for (const [i, e] of entries.entries()) {
        // A key at each end of each range: a range merged over two shards has one in each.
        const keys: string[] = [];
        for (let r = 0; r + 1 < e.slots.length; r += 2) {
          const [first, last] = [e.slots[r]!, e.slots[r + 1]!];
          keys.push(keyInSlots(first, Math.min(first + 99, last), (n) => `partial-${i}-${r}-lo-${n}`));
          keys.push(keyInSlots(Math.max(last - 99, first), last, (n) => `partial-${i}-${r}-hi-${n}`));
        }
        for (const key of keys) {
          assert.equal(await leader.set(key, `v-${key}`), 'OK');
          for (const node of e.nodes.filter((n) => n.startsWith('replica '))) {
            const address = [R1, R2].find((x) => `replica ${respOf(x).port}` === node)!;
            assert.equal(await readAt(address, key, `v-${key}`), `v-${key}`, `${key} at ${node}`);
          }
        }
      }
    } finally {
      leader.disconnect();
    }
  });
});
