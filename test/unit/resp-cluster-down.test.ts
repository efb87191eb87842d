/**
 * What CLUSTER NODES, SHARDS, SLOTS and INFO say about a node this node's peer check found
 * unreachable, as Redis says it of a node marked FAIL: `fail` flag, `health: failed`, a failed
 * replica left out of SLOTS, and a down leader's slots left out of SLOTS (its keys get
 * -CLUSTERDOWN: resp-owner-down.test.ts) and counted in `cluster_slots_fail` while
 * `cluster_state` stays `ok` (Redis with `cluster-require-full-coverage no`: the other slots are
 * served, and ioredis is not ready while it says `fail`). Slots this node refuses because a peer's
 * config gives them another leader are left out, as Redis leaves out slots no node serves.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/validate-config.js';
import { ShardMap } from '../../src/routing/shard-map.js';
import { cluster } from '../../src/resp/commands-cluster.js';
import { nodeIdOf } from '../../src/resp/resp-address.js';
import type { RespConnection } from '../../src/resp/resp-connection.js';
import { ReplyQueue } from '../../src/resp/reply-queue.js';
import type { SlotRange } from '../../src/routing/slot-dispute.js';
import { SlotGate } from '../../src/server/slot-gate.js';

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

/** partial: A leads shard-0 (replicas C and D) and shard-1 (replica D only), so CLUSTER SHARDS lists A twice. */
const D = '127.0.0.1:7004';
const partial = validateConfig(
  {
    shards: [
      { name: 'shard-0', idx: 0, address: A, replicas: [C, D] },
      { name: 'shard-1', idx: 1, address: A, replicas: [D] },
    ],
  },
  '<test>',
);

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

/** ask runs `CLUSTER sub` on a connection of node `me` that sees `down` unreachable (and refuses the slots of `gate`). */
function ask(me: string, down: string[], sub: string, gate?: SlotGate, cfg = config): Reply {
  const queue = run(me, down, sub, gate, cfg);
  return decode(queue.out.take())[0];
}

/** askShards runs CLUSTER SHARDS as `ask` runs a subcommand, once it has its stores' stats (none here). */
async function askShards(me: string, down: string[], gate?: SlotGate, cfg = config): Promise<Reply> {
  const queue = run(me, down, 'SHARDS', gate, cfg);
  await new Promise((resolve) => setImmediate(resolve));
  return decode(queue.out.take())[0];
}

/** run runs `CLUSTER sub` (see `ask`) on a node whose process hosts no store, and returns its reply queue. */
function run(
  me: string,
  down: string[],
  sub: string,
  gate: SlotGate | undefined,
  cfg: typeof config,
): ReplyQueue {
  const queue = new ReplyQueue(
    () => undefined,
    () => undefined,
  );
  const c = {
    proto: 2,
    queue,
    ctx: {
      config: cfg,
      liveShards: () => (cfg === config ? shards : new ShardMap(cfg.shards).shards),
      listener: { address: me },
      downNodes: () => new Set(down),
      plan: { stores: [] },
      pool: { callAll: () => Promise.resolve([]) },
      ...(gate === undefined ? {} : { slotGate: gate }),
    },
  } as unknown as RespConnection;
  cluster(c, [Buffer.from('CLUSTER'), Buffer.from(sub)]);
  return queue;
}

/** nodeLines maps each node's address to its CLUSTER NODES line's fields. */
function nodeLines(me: string, down: string[], gate?: SlotGate): Map<string, string[]> {
  const text = ask(me, down, 'NODES', gate) as string;
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
function info(me: string, down: string[], gate?: SlotGate): Record<string, string> {
  const text = ask(me, down, 'INFO', gate) as string;
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

  it('flags a down leader fail, counts its slots as failed with cluster_state still ok, and leaves them out of SLOTS', async () => {
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
    // Kept there, it drew ioredis's ready check and the down slots' commands to a node that does not
    // answer; left out, they go to a node that answers -CLUSTERDOWN (key-route.ts), as in Redis.
    const slots = ask(A, [B], 'SLOTS') as Reply[][];
    assert.deepEqual(
      slots.map((s) => [s[0], s[1], (s[2] as Reply[])[2]]),
      [[shards[0]!.slots.first, shards[0]!.slots.last, nodeIdOf(A)]],
      "the down leader's slots are left out, as Redis leaves out slots no node serves",
    );
    const shardsReply = (await askShards(A, [B])) as Reply[][];
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

/** disputing returns a gate refusing `ranges`, disputed with node C. */
function disputing(ranges: SlotRange[]): SlotGate {
  const g = new SlotGate('mine');
  g.set([{ peer: C, version: 'theirs', ranges, theirs: undefined, mine: [], silent: false }]);
  return g;
}

describe('CLUSTER commands with slots disputed with a peer', () => {
  // Shard 0 (A) is 0-8191, shard 1 (B) 8192-16383: 100-199 cuts shard 0 in two, 8192-9000 trims shard 1.
  const cut = (): SlotGate =>
    disputing([
      { first: 100, last: 199 },
      { first: 8192, last: 9000 },
    ]);

  it('leaves the disputed slots out of CLUSTER SLOTS, as Redis leaves out slots no node serves', () => {
    const slots = (ask(A, [], 'SLOTS', cut()) as Reply[][]).map((s) => [s[0], s[1], (s[2] as Reply[])[2]]);
    assert.deepEqual(slots, [
      [0, 99, nodeIdOf(A)],
      [200, 8191, nodeIdOf(A)],
      [9001, 16383, nodeIdOf(B)],
    ]);
  });

  it('leaves them out of the slot ranges of CLUSTER NODES and CLUSTER SHARDS', async () => {
    const lines = nodeLines(A, [], cut());
    assert.deepEqual(lines.get(A)!.slice(8), ['0-99', '200-8191']);
    assert.deepEqual(lines.get(B)!.slice(8), ['9001-16383']);
    const shardsReply = (await askShards(A, [], cut())) as Reply[][];
    assert.deepEqual(
      shardsReply.map((s) => s[1]),
      [
        [0, 99, 200, 8191],
        [9001, 16383],
      ],
    );
  });

  it('counts them out of cluster_slots_assigned and _ok; cluster_state stays ok while a slot is served', () => {
    const i = info(A, [], cut());
    const disputed = 100 + 809;
    assert.deepEqual(
      [i.cluster_state, i.cluster_slots_assigned, i.cluster_slots_ok, i.cluster_slots_fail],
      ['ok', String(16384 - disputed), String(16384 - disputed), '0'],
    );
    const down = info(A, [B], cut());
    assert.equal(
      down.cluster_slots_fail,
      String(8192 - 809),
      "a down leader's disputed slots are not counted twice",
    );
    assert.equal(down.cluster_slots_ok, String(8192 - 100));
  });

  it('says cluster_state:fail and lists no slot when every slot is disputed', () => {
    const all = disputing([{ first: 0, last: 16383 }]);
    assert.deepEqual(ask(A, [], 'SLOTS', all), []);
    assert.equal(info(A, [], all).cluster_state, 'fail');
    assert.equal(info(A, [], all).cluster_slots_assigned, '0');
  });
});

describe('CLUSTER SHARDS when a master has entries for several replica sets', () => {
  // Each entry as its slots and its nodes' RESP ports (the node's HTTP port + 1000), master first.
  const entries = async (gate?: SlotGate): Promise<[Reply, Reply[]][]> =>
    ((await askShards(A, [], gate, partial)) as Reply[][]).map((e) => [
      e[1]!,
      (e[3] as Reply[][]).map((n) => n[3]!),
    ]);

  it('lists the master once per replica set, each with its own slots', async () => {
    assert.deepEqual(await entries(), [
      [
        [0, 8191],
        [8001, 8003, 8004],
      ],
      [
        [8192, 16383],
        [8001, 8004],
      ],
    ]);
  });

  it('leaves out an entry whose slots are all disputed, rather than list the master twice', async () => {
    assert.deepEqual(await entries(disputing([{ first: 8192, last: 16383 }])), [
      [
        [0, 8191],
        [8001, 8003, 8004],
      ],
    ]);
  });

  it('keeps one entry without slots for a master none of whose slots is served', async () => {
    assert.deepEqual(await entries(disputing([{ first: 0, last: 16383 }])), [[[], [8001, 8003, 8004]]]);
  });
});

describe('CLUSTER NODES for a node that replicates several shards', () => {
  // C replicates shard-0 of A (not shard-1, which A also leads) and shard-2 of B, whole.
  const spread = validateConfig(
    {
      shards: [
        { name: 'shard-0', idx: 0, address: A, replicas: [C], slots: '0-5460' },
        { name: 'shard-1', idx: 1, address: A, replicas: [D], slots: '5461-10922' },
        { name: 'shard-2', idx: 2, address: B, replicas: [C], slots: '10923-16383' },
      ],
    },
    '<test>',
  );
  const lineOf = (address: string): string[] =>
    (ask(A, [], 'NODES', undefined, spread) as string)
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .find((f) => f[0] === nodeIdOf(address))!;

  it("names as its master a leader all of whose slots it holds, not its first shard's", () => {
    // A Redis replica holds all of its master's slots: "slave of A" would say C holds shard-1's.
    assert.deepEqual(lineOf(C).slice(2, 4), ['slave', nodeIdOf(B)]);
    assert.deepEqual(lineOf(D).slice(2, 4), ['slave', nodeIdOf(A)], 'else the leader of its first shard');
  });

  it('is named under every shard it replicates in CLUSTER SLOTS and SHARDS', async () => {
    const slots = (ask(A, [], 'SLOTS', undefined, spread) as Reply[][]).map((s) => [
      s[0],
      (s.slice(3) as Reply[][]).map((n) => n[2]),
    ]);
    assert.deepEqual(slots, [
      [0, [nodeIdOf(C)]],
      [5461, [nodeIdOf(D)]],
      [10923, [nodeIdOf(C)]],
    ]);
    const shardsReply = ((await askShards(A, [], undefined, spread)) as Reply[][]).map((e) =>
      (e[3] as Reply[][]).map((n) => n[1]),
    );
    assert.deepEqual(shardsReply, [
      [nodeIdOf(A), nodeIdOf(C)],
      [nodeIdOf(A), nodeIdOf(D)],
      [nodeIdOf(B), nodeIdOf(C)],
    ]);
  });
});
