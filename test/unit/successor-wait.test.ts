/**
 * awaitSuccessors (src/coordination/successor-wait.ts), the end of a graceful stop with etcd, over
 * an in-memory etcd read: it returns the map once etcd names another leader for each shard handed
 * over, and does not wait for a shard no member elsewhere can campaign for (none has a seq
 * published under a live lease: a replica stopped just before this node). The old code waited its
 * whole bound for such a shard.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { Published } from '../../src/coordination/candidate-rank.js';
import type { Snapshot } from '../../src/coordination/etcd-keyspace.js';
import { awaitSuccessors } from '../../src/coordination/successor-wait.js';
import type { LiveMap } from '../../src/routing/live-map.js';

const A = '127.0.0.1:7001';
const B = '127.0.0.1:7002';
const log = pino({ level: 'silent' });

/** snapshot is etcd's answer: shard-0 led by `leader`, with the members' published seqs. */
function snapshot(leader: string, seqs: Published[]): Snapshot {
  const live = {
    version: 1,
    shards: [{ name: 'shard-0', idx: 0, leader, replicas: [A, B].filter((m) => m !== leader) }],
  };
  return {
    map: { live: live as unknown as LiveMap, modRevision: '1' },
    leaders: new Map(),
    seqs: new Map([['shard-0', seqs]]),
  };
}

describe('a graceful stop waiting for etcd to name its shards’ new leaders', () => {
  it('returns the map once another member leads', async () => {
    let reads = 0;
    const read = (): Promise<Snapshot> =>
      Promise.resolve(
        ++reads < 3 ? snapshot(A, [{ address: B, seq: 5 }]) : snapshot(B, [{ address: B, seq: 5 }]),
      );
    const named = await awaitSuccessors(read, new Set([A]), ['shard-0'], 5000, log);
    assert.equal(named?.shards[0]?.leader, B);
    assert.equal(reads, 3);
  });

  it('waits its bound while a member elsewhere may still campaign', async () => {
    const started = performance.now();
    const named = await awaitSuccessors(
      () =>
        Promise.resolve(
          snapshot(A, [
            { address: A, seq: 5 },
            { address: B, seq: 5 },
          ]),
        ),
      new Set([A]),
      ['shard-0'],
      300,
      log,
    );
    assert.equal(named, undefined);
    assert.ok(performance.now() - started >= 250, 'it gave up before its bound');
  });

  it('does not wait for a shard whose members elsewhere have no seq published (stopped before it)', async () => {
    const started = performance.now();
    const named = await awaitSuccessors(
      () => Promise.resolve(snapshot(A, [{ address: A, seq: 5 }])),
      new Set([A]),
      ['shard-0'],
      5000,
      log,
    );
    const ms = performance.now() - started;
    assert.ok(ms < 2500, `it waited ${Math.round(ms)} ms for a successor nothing could become`);
    assert.equal(named?.shards[0]?.leader, A, 'it answers etcd’s map as it is');
  });
});
