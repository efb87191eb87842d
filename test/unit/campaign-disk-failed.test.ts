/**
 * A replica `disk-failed` in /cluster never campaigns for its shard's leader key
 * (src/coordination/campaign.ts, docs/failover.md "Automatic failover with etcd"): one whose store
 * refuses every write (its directory lost: STORE_DIR_LOST, positions.ts SLOT_STORE_ERROR).
 * Promoted, it refused every write as leader and lost what it held at its next start (a replica
 * whose own disk failed still may: promotionRefusal). Its log says why once, not at every reconcile. A store
 * whose directory is lost withdraws its published seq (seq-publisher.ts): left there, it would
 * outrank the replicas that may lead.
 *
 * The campaign runs against fakes: a gate that lets every campaign through (its own waits are
 * campaign-gate-*.test.ts's), a lease held long enough, and a keyspace whose leader key is free.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Logger } from 'pino';
import { type CampaignDeps, campaignFor, promotionRefusal } from '../../src/coordination/campaign.js';
import { CampaignGate } from '../../src/coordination/campaign-gate.js';
import type { EtcdKeyspace, Snapshot } from '../../src/coordination/etcd-keyspace.js';
import type { FollowHolds } from '../../src/coordination/follow-holds.js';
import type { ProcessLease } from '../../src/coordination/process-lease.js';
import { SeqPublisher } from '../../src/coordination/seq-publisher.js';
import type { LocalErrorCode } from '../../src/replication/positions.js';
import {
  localErrorSlot,
  Positions,
  SLOT_LOCAL_ERROR,
  SLOT_STORE_ERROR,
} from '../../src/replication/positions.js';
import type { LiveMap, LiveShard } from '../../src/routing/live-map.js';
import type { NodePlan } from '../../src/server/node-plan.js';
import type { WorkerPool } from '../../src/server/worker-pool.js';

const L = 'L:1';
const R1 = 'R1:1';
const R2 = 'R2:1';

/** OpenGate is a gate whose own waits are over: the leader's key went long ago, every member heard. */
class OpenGate extends CampaignGate {
  override mayCampaign(): boolean {
    return true;
  }
  override waitsForLapsed(): boolean {
    return false;
  }
  override unheard(): string[] {
    return [];
  }
  override heldSince(): boolean {
    return true;
  }
}

const shard: LiveShard = {
  idx: 0,
  name: 's0',
  leader: L,
  replicas: [R1, R2],
  epoch: 3,
  history: [{ epoch: 3, firstSeq: 1 }],
};
const mine: LiveMap = { version: 1, shards: [shard] };
const st = {
  index: 1,
  worker: 0,
  node: R1,
  role: 'replica',
  shard: { idx: 0, name: 's0' },
} as NodePlan['stores'][number];
/** snap: the leader's key is gone; R2 published a seq below R1's 10, so R1 ranks first. */
const snap: Snapshot = {
  map: undefined,
  leaders: new Map(),
  seqs: new Map([['s0', [{ address: R2, seq: 5 }]]]),
};

/** Rig is one replica's campaign deps, with what it logged and promoted. */
interface Rig {
  deps: CampaignDeps;
  warned: string[];
  infos: string[];
  promoted: number;
  refusal: LocalErrorCode | undefined;
}

function rig(): Rig {
  const r: Rig = { warned: [], infos: [], promoted: 0, refusal: undefined, deps: undefined as never };
  const log = {
    warn: (_o: object, m: string) => r.warned.push(m),
    info: (_o: object, m: string) => r.infos.push(m),
  } as unknown as Logger;
  r.deps = {
    keys: { putLeader: () => Promise.resolve('42') } as unknown as EtcdKeyspace,
    gate: new OpenGate(1000, 250),
    lease: { heldFor: () => true } as unknown as ProcessLease,
    seqs: { seqOf: () => 10 } as unknown as CampaignDeps['seqs'],
    ttlMs: 1000,
    promote: () => {
      r.promoted++;
      return Promise.resolve(true);
    },
    otherConfig: () => false,
    refusal: () => r.refusal,
    log,
  };
  return r;
}

describe('a disk-failed replica does not campaign', () => {
  it('a healthy replica ranked first takes the key (the rig works)', async () => {
    const r = rig();
    await campaignFor(r.deps, st, shard, snap, 'lease-1', mine);
    assert.equal(r.promoted, 1);
    assert.deepEqual(r.warned, []);
  });

  for (const code of ['STORE_DIR_LOST', 'DISK_FULL'] as const)
    it(`a replica refused with ${code} ranked first does not take the key, and says why once`, async () => {
      const r = rig();
      r.refusal = code;
      for (let i = 0; i < 3; i++) await campaignFor(r.deps, st, shard, snap, 'lease-1', mine);
      assert.equal(r.promoted, 0, 'never promoted');
      assert.equal(r.warned.length, 1, 'said once over three reconciles');
      assert.match(r.warned[0] ?? '', new RegExp(`not taking s0 over on ${R1} \\(disk-failed\\): .*${code}`));
      r.refusal = undefined;
      await campaignFor(r.deps, st, shard, snap, 'lease-1', mine);
      assert.equal(r.promoted, 1, 'campaigns once its store may take writes again');
      assert.equal(r.infos.filter((m) => m.includes('may take writes again')).length, 1);
    });

  it('promotionRefusal reads the store error from the positions, not a replica own disk error', () => {
    const positions = new Positions(new SharedArrayBuffer(Positions.bytesFor(3)));
    const pool = {
      positions,
      storeError: (i: number) => (positions.get(i, SLOT_STORE_ERROR) === 0 ? undefined : 'STORE_DIR_LOST'),
    } as unknown as Pick<WorkerPool, 'storeError' | 'positions'>;
    positions.set(1, SLOT_STORE_ERROR, localErrorSlot('STORE_DIR_LOST'));
    positions.set(2, SLOT_LOCAL_ERROR, localErrorSlot('DISK_FULL'));
    assert.equal(promotionRefusal(pool, 0), undefined);
    assert.equal(promotionRefusal(pool, 1), 'STORE_DIR_LOST');
    assert.equal(promotionRefusal(pool, 2), undefined, 'a full disk holds what it holds: it may lead');
  });
});

describe('the seq of a store whose directory is lost', () => {
  it('is withdrawn from etcd and not published again', async () => {
    const calls: string[] = [];
    const keys = {
      seqKey: (s: string, n: string) => `seq/${s}/${n}`,
      publishSeq: (s: string, n: string, seq: number) => {
        calls.push(`put ${s}/${n}=${String(seq)}`);
        return Promise.resolve();
      },
      withdrawSeq: (s: string, n: string) => {
        calls.push(`delete ${s}/${n}`);
        return Promise.resolve();
      },
    } as unknown as EtcdKeyspace;
    let lost = false;
    const pool = {
      storeFailure: () => undefined,
      storeError: () => (lost ? 'STORE_DIR_LOST' : undefined),
      lastSeq: () => 10,
    } as unknown as WorkerPool;
    const holds = { heldSeq: () => undefined } as unknown as FollowHolds;
    const plan = { stores: [st] } as unknown as NodePlan;
    const pub = new SeqPublisher(keys, plan, pool, holds);
    const none: Snapshot = { map: undefined, leaders: new Map(), seqs: new Map() };
    await pub.publish('lease-1', none);
    assert.deepEqual(calls, [`put s0/${R1}=10`]);
    lost = true;
    const shown: Snapshot = { ...none, seqs: new Map([['s0', [{ address: R1, seq: 10 }]]]) };
    await pub.publish('lease-1', shown);
    assert.deepEqual(calls.slice(1), [`delete s0/${R1}`], 'withdrawn while etcd shows it');
    await pub.publish('lease-1', none);
    assert.equal(calls.length, 2, 'nothing published once it is gone');
  });
});
