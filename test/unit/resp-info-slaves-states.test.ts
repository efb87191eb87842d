/**
 * INFO replication at a master lists its replicas as Redis does (src/resp/replica-links.ts): every
 * replica connected to it, whatever its link's stage, on a `slaveN:` line with its state, and
 * `connected_slaves` counting the lines. It listed only the replicas that followed, always as
 * `state=online`: a replica loading a snapshot (a full resync, minutes for a large shard) was
 * missing, as if it were gone, where Redis shows `wait_bgsave` or `send_bulk`.
 *
 * States: following (streaming, catching-up) is `online`; resyncing is `send_bulk`, or
 * `wait_bgsave` while the snapshot stream to a replica elsewhere has sent no page yet, with offset
 * 0 (it holds no copy it could ack); a replica whose link is down (disconnected, starting, held by
 * a promotion, its own disk failed) is not listed, as Redis lists no replica whose link is down.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import type { LeaderView } from '../../src/http/replica-pulls.js';
import type { RespConnection } from '../../src/resp/resp-connection.js';
import {
  FOLLOWER_STATES,
  type FollowerState,
  localErrorSlot,
  Positions,
  SLOT_CONTACT_AT,
  SLOT_LAST_SEQ,
  SLOT_LOCAL_ERROR,
  SLOT_STATE,
} from '../../src/replication/positions.js';
import { fakeNodeConnection, infoContext, infoReply } from '../helpers/fake-resp-connection.js';
import { A, config, planStores, R1, R2, shardMap, targets } from '../helpers/info-replication-layout.js';

/** LocalReplica is one of R1's stores in A's process (shard-0's is store 2, shard-1's store 3). */
interface LocalReplica {
  state: FollowerState;
  ack?: number;
  /** diskError: its own disk stopped it (DISK_FULL). */
  diskError?: boolean;
}

/** Pulls are, per leader store and replica, [ack, lastSeenMsAgo] in that store's stats. */
type Pulls = Record<number, Record<string, [number, number]>>;

/** Setup is what A knows: the remote replicas' last pulls per leader store, their snapshot streams, and R1's stores here. */
interface Setup {
  pulls?: Pulls;
  /** snapshots[shard][replica] is what A's node heard of a snapshot stream to it. */
  snapshots?: Record<number, Record<string, Partial<LeaderView>>>;
  local?: [LocalReplica, LocalReplica];
}

/** slaveLines runs INFO replication at A and returns its connected_slaves and slaveN lines. */
async function slaveLines(s: Setup): Promise<string[]> {
  const p = new Positions(new SharedArrayBuffer(Positions.bytesFor(4)));
  p.set(0, SLOT_LAST_SEQ, 30);
  p.set(1, SLOT_LAST_SEQ, 12);
  s.local?.forEach((r, i) => {
    p.set(2 + i, SLOT_STATE, FOLLOWER_STATES.indexOf(r.state));
    p.set(2 + i, SLOT_CONTACT_AT, Date.now() - 1_200);
    p.set(2 + i, SLOT_LAST_SEQ, r.ack ?? 0);
    if (r.diskError === true) p.set(2 + i, SLOT_LOCAL_ERROR, localErrorSlot('DISK_FULL'));
  });
  const stores = planStores(s.local !== undefined);
  const stats = [0, 1].map((index) => ({
    index,
    stats: {
      replicas: Object.entries(s.pulls?.[index] ?? {}).map(([replica, [ack, lastSeenMsAgo]]) => ({
        replica,
        ack,
        lastSeenMsAgo,
      })),
    },
  }));
  const leaderView = (shard: number, replica: string): LeaderView => ({
    following: false,
    ...s.snapshots?.[shard]?.[replica],
  });
  const c: RespConnection = fakeNodeConnection(
    config,
    shardMap,
    { address: A, port: 7001, reads: targets, writes: targets },
    {
      ...infoContext(),
      plan: { stores },
      leaderView,
      pool: {
        lastSeq: (index: number) => p.get(index, SLOT_LAST_SEQ),
        positions: p,
        callAll: () => Promise.resolve([{ type: 'stats-result', stores: stats }]),
      },
    },
  );
  const reply = await infoReply(c, 'replication');
  const lines = reply.split('\r\n').filter((l) => /^(connected_slaves|slave\d):/.test(l));
  const n = Number(/^connected_slaves:(\d+)$/.exec(lines[0] ?? '')?.[1]);
  assert.equal(lines.length - 1, n, `connected_slaves counts the slaveN lines:\n${lines.join('\n')}`);
  return lines;
}

const SENDING = { resyncing: true, snapshot_bytes: 65536, last_snapshot_ms_ago: 2_500 } as const;

describe('INFO replication replica states', () => {
  // Date stands still in each test: a contact time is set at Date.now() - N ms and INFO reads it
  // against its own Date.now(); a process starved between the two (CI) turned 1.2 s into lag=2.
  beforeEach(() => {
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
  });
  afterEach(() => {
    mock.timers.reset();
  });

  it('lists a replica in this process that resyncs as send_bulk, offset 0 for the shard it resyncs', async () => {
    assert.deepEqual(await slaveLines({ local: [{ state: 'resyncing' }, { state: 'streaming', ack: 12 }] }), [
      'connected_slaves:1',
      'slave0:ip=127.0.0.1,port=8002,state=send_bulk,offset=12,lag=1',
    ]);
    assert.deepEqual(
      await slaveLines({
        local: [
          { state: 'catching-up', ack: 20 },
          { state: 'streaming', ack: 12 },
        ],
      }),
      ['connected_slaves:1', 'slave0:ip=127.0.0.1,port=8002,state=online,offset=32,lag=1'],
    );
  });

  for (const [why, r] of [
    ['disconnected', { state: 'disconnected' }],
    ['starting (its leader has not answered it yet)', { state: 'starting' }],
    ['held by a promotion', { state: 'held' }],
    ['disk-failed while it retries a resync', { state: 'resyncing', diskError: true }],
    ['disk-failed', { state: 'disconnected', diskError: true }],
  ] as const)
    it(`does not list a replica in this process that is ${why}`, async () => {
      assert.deepEqual(await slaveLines({ local: [r, { state: 'streaming', ack: 12 }] }), [
        'connected_slaves:0',
      ]);
    });

  it('lists a replica elsewhere whose snapshot stream is under way as wait_bgsave, then send_bulk', async () => {
    const pulls: Pulls = { 0: { [R1]: [28, 300] }, 1: { [R1]: [12, 300] } };
    const waiting = { resyncing: true, snapshot_bytes: 0, last_snapshot_ms_ago: 40 } as const;
    assert.deepEqual(await slaveLines({ pulls, snapshots: { 1: { [R2]: waiting } } }), [
      'connected_slaves:2',
      'slave0:ip=127.0.0.1,port=8002,state=online,offset=40,lag=0',
      'slave1:ip=127.0.0.1,port=8003,state=wait_bgsave,offset=0,lag=0',
    ]);
    assert.deepEqual(await slaveLines({ pulls, snapshots: { 1: { [R2]: SENDING } } }), [
      'connected_slaves:2',
      'slave0:ip=127.0.0.1,port=8002,state=online,offset=40,lag=0',
      'slave1:ip=127.0.0.1,port=8003,state=send_bulk,offset=0,lag=2',
    ]);
  });

  it('lists a replica of several shards at the earliest stage of its shards', async () => {
    const pulls: Pulls = { 0: { [R1]: [28, 300] }, 1: { [R2]: [9, 300] } };
    assert.deepEqual(await slaveLines({ pulls, snapshots: { 1: { [R1]: SENDING } } }), [
      'connected_slaves:2',
      'slave0:ip=127.0.0.1,port=8002,state=send_bulk,offset=28,lag=2',
      'slave1:ip=127.0.0.1,port=8003,state=online,offset=9,lag=0',
    ]);
  });

  it('does not list a replica elsewhere whose pulls stopped and that loads no snapshot', async () => {
    const pulls: Pulls = { 0: { [R1]: [28, 300] }, 1: { [R1]: [12, 300], [R2]: [9, 60_000] } };
    const ended = { snapshot_bytes: 4096, last_snapshot_ms_ago: 90_000 };
    assert.deepEqual(await slaveLines({ pulls, snapshots: { 1: { [R2]: ended } } }), [
      'connected_slaves:1',
      'slave0:ip=127.0.0.1,port=8002,state=online,offset=40,lag=0',
    ]);
  });
});
