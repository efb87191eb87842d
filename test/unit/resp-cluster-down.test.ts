/**
 * What CLUSTER NODES, SHARDS, SLOTS and INFO say about a node this node's peer check found
 * unreachable, as Redis says it of a node marked FAIL: `fail` flag, `health: failed`, a failed
 * replica left out of SLOTS, and a down leader's slots counted in `cluster_slots_fail` while
 * `cluster_state` stays `ok` (Redis with `cluster-require-full-coverage no`: the other slots are
 * served, and ioredis is not ready while it says `fail`).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/validate-config.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { cluster } from '../../src/resp/commands-cluster.js';
import { nodeIdOf } from '../../src/resp/resp-address.js';
import type { RespConnection } from '../../src/resp/resp-connection.js';
import { ReplyQueue } from '../../src/resp/reply-queue.js';

const A = '127.0.0.1:7001';
const B = '127.0.0.1:7002';
/** C hosts only replicas: of shard 0 (led by A) and shard 1 (led by B). */
const C = '127.0.0.1:7003';

const config = validateConfig(
  {
    shards: [
      { name: 'shard-0', idx: 0, address: A, replicas: [C] },
      { name: 'shard-1', idx: 1, address: B, replicas: [C] },
    ],
  },
  '<test>',
);
const shards = new ShardMap(config.shards).shards;

type Reply = string | number | null | Reply[];

/** decode reads one RESP2 reply at `at` of `b`; returns it and where it ends. */
function decode(b: Buffer, at = 0): [Reply, number] {
  const cr = b.indexOf('\r\n', at);
  const head = b.toString('latin1', at + 1, cr);
  const type = String.fromCharCode(b[at]!);
  if (type === '+' || type === '-') return [head, cr + 2];
  if (type === ':') return [Number(head), cr + 2];
  const n = Number(head);
  if (type === '$') return n < 0 ? [null, cr + 2] : [b.toString('latin1', cr + 2, cr + 2 + n), cr + 4 + n];
  const out: Reply[] = [];
  let p = cr + 2;
  for (let i = 0; i < n; i++) {
    const [r, next] = decode(b, p);
    out.push(r);
    p = next;
  }
  return [out, p];
}

/** ask runs `CLUSTER sub` on a connection of node `me` that sees `down` unreachable. */
function ask(me: string, down: string[], sub: string): Reply {
  const queue = new ReplyQueue(
    () => undefined,
    () => undefined,
  );
  const c = {
    proto: 2,
    queue,
    ctx: { config, liveShards: () => shards, listener: { address: me }, downNodes: () => new Set(down) },
  } as unknown as RespConnection;
  cluster(c, [Buffer.from('CLUSTER'), Buffer.from(sub)]);
  return decode(queue.out.take())[0];
}

/** nodeLines maps each node's address to its CLUSTER NODES line's fields. */
function nodeLines(me: string, down: string[]): Map<string, string[]> {
  const text = ask(me, down, 'NODES') as string;
  const byId = new Map([A, B, C].map((a) => [nodeIdOf(a), a]));
  return new Map(
    text
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map((f) => [byId.get(f[0]!)!, f]),
  );
}

/** info reads CLUSTER INFO's fields. */
function info(me: string, down: string[]): Record<string, string> {
  const text = ask(me, down, 'INFO') as string;
  return Object.fromEntries(
    text
      .trim()
      .split('\r\n')
      .map((l) => l.split(':') as [string, string]),
  );
}

describe('CLUSTER commands with a node down', () => {
  it('reports every node connected and the cluster ok while all answer', () => {
    for (const [, f] of nodeLines(A, [])) {
      assert.doesNotMatch(f[2]!, /fail/);
      assert.equal(f[7], 'connected');
    }
    assert.equal(info(A, []).cluster_state, 'ok');
    assert.equal(info(A, []).cluster_slots_ok, '16384');
  });

  it('flags a down leader fail, counts its slots as failed with cluster_state still ok, and keeps it in SLOTS', () => {
    const lines = nodeLines(A, [B]);
    assert.equal(lines.get(B)![2], 'master,fail');
    assert.equal(lines.get(B)![7], 'disconnected');
    assert.equal(
      lines.get(B)![8],
      `${shards[1]!.slots.first}-${shards[1]!.slots.last}`,
      'it still owns its slots',
    );
    assert.equal(lines.get(A)![2], 'myself,master');
    const failed = shards[1]!.slots.last - shards[1]!.slots.first + 1;
    assert.deepEqual(
      [info(A, [B]).cluster_state, info(A, [B]).cluster_slots_fail, info(A, [B]).cluster_slots_ok],
      ['ok', String(failed), String(16384 - failed)],
    );
    const slots = ask(A, [B], 'SLOTS') as Reply[][];
    assert.equal(slots.length, 2);
    assert.deepEqual(
      (slots[1]![2] as Reply[])[2],
      nodeIdOf(B),
      'the down leader still serves its slots in SLOTS',
    );
    const shardsReply = ask(A, [B], 'SHARDS') as Reply[][];
    const health = shardsReply.flatMap((s) => (s[3] as Reply[][]).map((n) => [n[1], n[13]]));
    assert.deepEqual(
      health.filter(([, h]) => h === 'failed'),
      [[nodeIdOf(B), 'failed']],
    );
  });

  it('leaves a down replica out of SLOTS and flags it slave,fail, with the cluster still ok', () => {
    const slots = ask(A, [C], 'SLOTS') as Reply[][];
    for (const s of slots) assert.equal(s.length, 3, 'only the leader: the failed replica is left out');
    assert.equal(nodeLines(A, [C]).get(C)![2], 'slave,fail');
    assert.equal(info(A, [C]).cluster_state, 'ok');
    assert.equal(info(A, [C]).cluster_slots_fail, '0');
    const up = ask(A, [], 'SLOTS') as Reply[][];
    for (const s of up) assert.equal(s.length, 4, 'with the replica while it answers');
  });

  it('never reports itself down', () => {
    assert.equal(nodeLines(B, [B]).get(B)![2], 'myself,master');
    assert.equal(info(B, [B]).cluster_state, 'ok');
  });
});
