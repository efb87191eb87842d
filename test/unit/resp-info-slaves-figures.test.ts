/**
 * INFO replication's `connected_slaves` at a master (src/resp/commands-info.ts, replica-links.ts)
 * counts the replicas that follow it, not every replica that answers the peer check: a replica in
 * another process whose pulls stopped (refused for a wrong token, say, while its node answers its
 * checks) is not connected, by its leader store's word on its last pull; a replica in this process
 * by its published follower state. It counted both as connected, for good.
 *
 * Each one it counts is listed as Redis lists a connected replica, `slaveN:ip=..,port=..,
 * state=online,offset=..,lag=..`: its acks summed over the master's shards it replicates, and the
 * whole seconds since the master last heard from it; `master_repl_offset` sums the master's seqs.
 * There were no `slaveN:` lines, so tools that read them (redis-cli --cluster's replica checks,
 * monitoring) saw a master without replicas.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import type { RespConnection } from '../../src/resp/resp-connection.js';
import {
  FOLLOWER_STATES,
  type FollowerState,
  Positions,
  SLOT_CONTACT_AT,
  SLOT_LAST_SEQ,
  SLOT_STATE,
} from '../../src/replication/positions.js';
import { fakeNodeConnection, infoContext, infoReply } from '../helpers/fake-resp-connection.js';
import { A, config, planStores, R1, R2, shardMap, targets } from '../helpers/info-replication-layout.js';

const PULL_WAIT_MS = config.replication.pull_wait_ms;

/** Setup is what node A knows: each remote replica's last pull per leader store, and its local replica stores' states. */
interface Setup {
  /** seen[store][replica] is lastSeenMsAgo in leader store `store`'s stats (absent: never pulled). */
  seen: Record<number, Record<string, number>>;
  /** acks[store][replica] is the ack in leader store `store`'s stats (absent: 1). */
  acks?: Record<number, Record<string, number>>;
  /** local: R1's replica stores in A's process (indexes 2 and 3), with their follower states. */
  local?: [FollowerState, FollowerState];
  /** localAcks are those stores' acked seqs (default 0), localContactMsAgo the time since their leader answered (100). */
  localAcks?: [number, number];
  localContactMsAgo?: number;
  down?: string[];
}

/** LEADER_SEQS are the seqs of A's leader stores 0 and 1. */
const LEADER_SEQS = [30, 12];

/** replication runs INFO replication at A and returns its lines. */
async function replication(s: Setup): Promise<string[]> {
  const p = new Positions(new SharedArrayBuffer(Positions.bytesFor(4)));
  s.local?.forEach((state, i) => {
    p.set(2 + i, SLOT_STATE, FOLLOWER_STATES.indexOf(state));
    p.set(2 + i, SLOT_CONTACT_AT, Date.now() - (s.localContactMsAgo ?? 100));
    p.set(2 + i, SLOT_LAST_SEQ, s.localAcks?.[i] ?? 0);
  });
  LEADER_SEQS.forEach((seq, i) => {
    p.set(i, SLOT_LAST_SEQ, seq);
  });
  const stores = planStores(s.local !== undefined);
  const stats = [0, 1].map((index) => ({
    index,
    stats: {
      keys: 0,
      replicas: Object.entries(s.seen[index] ?? {}).map(([replica, lastSeenMsAgo]) => ({
        replica,
        ack: s.acks?.[index]?.[replica] ?? 1,
        lastSeenMsAgo,
      })),
    },
  }));
  const c: RespConnection = fakeNodeConnection(
    config,
    shardMap,
    { address: A, port: 7001, reads: targets, writes: targets },
    {
      ...infoContext(),
      downNodes: () => new Set(s.down ?? []),
      plan: { stores },
      pool: {
        lastSeq: (index: number) => p.get(index, SLOT_LAST_SEQ),
        positions: p,
        callAll: () => Promise.resolve([{ type: 'stats-result', stores: stats }]),
      },
    },
  );
  const reply = await infoReply(c, 'replication');
  assert.match(reply, /role:master/, reply);
  return reply.split('\r\n').filter((l) => /^(connected_slaves|slave\d|master_repl_offset):/.test(l));
}

/** slaves runs INFO replication at A and returns its connected_slaves, checking one slaveN line per replica counted. */
async function slaves(s: Setup): Promise<number> {
  const lines = await replication(s);
  const n = Number(/^connected_slaves:(\d+)$/.exec(lines[0] ?? '')?.[1]);
  assert.equal(lines.filter((l) => l.startsWith('slave')).length, n, lines.join('\n'));
  return n;
}

describe('INFO replication connected_slaves', () => {
  // Date stands still in each test: a contact time is set at Date.now() - N ms and INFO reads it
  // against its own Date.now(); a process starved between the two (CI) turned 1.2 s into lag=2.
  beforeEach(() => {
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
  });
  afterEach(() => {
    mock.timers.reset();
  });

  it('counts the remote replicas that pulled within a long poll and its grace', async () => {
    const fresh = { 0: { [R1]: 300 }, 1: { [R1]: 300, [R2]: PULL_WAIT_MS } };
    assert.equal(await slaves({ seen: fresh }), 2);
    assert.equal(await slaves({ seen: fresh, down: [R2] }), 1, 'the peer check still counts');
  });

  it('leaves out a remote replica whose pulls stopped though its node answers the peer check', async () => {
    assert.equal(await slaves({ seen: { 0: { [R1]: 300 }, 1: { [R1]: 300, [R2]: 60_000 } } }), 1);
    assert.equal(await slaves({ seen: { 0: { [R1]: 300 }, 1: { [R1]: 300 } } }), 1, 'R2 never pulled');
    assert.equal(
      await slaves({ seen: { 0: { [R1]: 60_000 }, 1: { [R1]: 300, [R2]: 300 } } }),
      1,
      'R1 follows shard-1 but not shard-0',
    );
  });

  it('counts a replica in this process by its follower state, whatever its last ack says', async () => {
    // A ring replica acks only when it applies: an idle shard's ack is old and says nothing.
    const seen = { 0: { [R1]: 60_000 }, 1: { [R1]: 60_000, [R2]: 300 } };
    assert.equal(await slaves({ seen, local: ['streaming', 'streaming'] }), 2);
    assert.equal(await slaves({ seen, local: ['streaming', 'held'] }), 1);
    assert.equal(await slaves({ seen, local: ['disconnected', 'streaming'] }), 1);
  });

  it('lists each counted replica with its RESP port, its acks summed over the shards it replicates and its lag', async () => {
    const seen = { 0: { [R1]: 300 }, 1: { [R1]: 2_400, [R2]: PULL_WAIT_MS } };
    const acks = { 0: { [R1]: 28 }, 1: { [R1]: 12, [R2]: 9 } };
    assert.deepEqual(await replication({ seen, acks }), [
      'connected_slaves:2',
      'slave0:ip=127.0.0.1,port=8002,state=online,offset=40,lag=2',
      'slave1:ip=127.0.0.1,port=8003,state=online,offset=9,lag=1',
      'master_repl_offset:42',
    ]);
    // R1 in this process: its stores' acks and the time since its leader answered it.
    const local = await replication({
      seen: { 1: { [R2]: 300 } },
      acks: { 1: { [R2]: 11 } },
      local: ['streaming', 'catching-up'],
      localAcks: [30, 7],
      localContactMsAgo: 1_500,
    });
    assert.deepEqual(local, [
      'connected_slaves:2',
      'slave0:ip=127.0.0.1,port=8002,state=online,offset=37,lag=1',
      'slave1:ip=127.0.0.1,port=8003,state=online,offset=11,lag=0',
      'master_repl_offset:42',
    ]);
    assert.deepEqual(await replication({ seen: {} }), ['connected_slaves:0', 'master_repl_offset:42']);
  });
});
