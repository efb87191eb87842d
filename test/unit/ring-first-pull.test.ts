/**
 * A ring replica's position is checked by its leader like any replica's (src/replication/ring-source.ts,
 * leader-state.ts). With `durability = "interval"`, a power cut can take from a leader records its
 * ring replica on another worker of the process had synced. Both restart; the leader gives new
 * writes the same seqs. Before, the replica took the leader's new records from the ring on top of its
 * own (the ring continued its ack, so no pull went to the leader), served the lost values, lacked
 * the new ones, and never resynced; the leader exempted ring replicas from its restart check and
 * counted their shared position (the old seq) for `w=N` at once.
 * Now a ring replica pulls from the leader's log first whenever a new producer (a new leader
 * state) runs the ring, and the leader counts a ring replica only once such a pull was answered.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { LeaderState } from '../../src/replication/leader-state.js';
import { ringBytesFor } from '../../src/replication/ring-format.js';
import { RingConsumer, RingProducer } from '../../src/replication/ring.js';
import { RingSource } from '../../src/replication/ring-source.js';
import { ScriptedSource } from '../helpers/scripted-source.js';
import { walBatch } from '../helpers/ring-batches.js';

describe('a ring replica ahead of where its restarted leader started', () => {
  it('asks the leader before it takes ring batches that continue its ack, and gets the fork', async () => {
    const sab = new SharedArrayBuffer(ringBytesFor(4096));
    // The restarted leader started at seq 0 (its leader state knows the replica's records above 0
    // are not its own: it never heard from it), then writes seqs 1..5 into the ring.
    let last = 0;
    const state = new LeaderState(() => last);
    const producer = new RingProducer(sab);
    for (let s = 1; s <= 5; s++) producer.publish(walBatch(s, s), s, s);
    last = 5;
    const fallback = new ScriptedSource((after) => {
      const fork = state.restartFork('ring-replica', after);
      return fork === undefined ? { records: Buffer.alloc(0), leaderSeq: 5 } : { fork };
    });
    const source = new RingSource(new RingConsumer(sab), fallback, 'ring', () => 5);
    // The replica holds seqs 1..3 of the lost history: the ring's 4..5 continue its ack.
    const r = await source.pull(3, 1 << 20, 0);
    assert.deepEqual(r, { fork: 0 }, 'the replica took the new records on top of the lost ones');
  });

  it('is not counted for w=N on its shared position until the leader answered one of its pulls', () => {
    let replicaAck = 3;
    // The leader, restarted at 0, wrote seqs 1..3 again (other values); the replica still shows 3.
    const state = new LeaderState(() => 3);
    state.addAckSource('ring-replica', () => replicaAck);
    assert.equal(state.ackedAtLeast(3), 0, 'the replica was counted as holding the new seq 3');
    // Once its position is checked (here: it resynced, and pulls from 0), it counts as it goes.
    replicaAck = 0;
    assert.equal(state.restartFork('ring-replica', 0), undefined);
    state.ack('ring-replica', 0);
    replicaAck = 3;
    assert.equal(state.ackedAtLeast(3), 1);
  });

  it('asks the leader again when a new producer runs the ring (its leader worker restarted), then rejoins it', async () => {
    const sab = new SharedArrayBuffer(ringBytesFor(4096));
    const first = new RingProducer(sab);
    first.publish(walBatch(1, 2), 1, 2);
    let leaderSeq = 2;
    const fallback = new ScriptedSource((after) => ({
      records: after < leaderSeq ? walBatch(after + 1, leaderSeq) : Buffer.alloc(0),
      leaderSeq,
    }));
    const source = new RingSource(new RingConsumer(sab), fallback, 'ring', () => leaderSeq);
    const a = await source.pull(0, 1 << 20, 0);
    assert.ok(typeof a === 'object' && 'records' in a && a.records.length > 0);
    const pullsBefore = fallback.pulls;
    // The leader's worker restarts: a new producer on the same ring, continuing at seq 3.
    const second = new RingProducer(sab);
    second.publish(walBatch(3, 3), 3, 3);
    leaderSeq = 3;
    const b = await source.pull(2, 1 << 20, 0);
    assert.ok(typeof b === 'object' && 'records' in b);
    assert.equal(fallback.pulls, pullsBefore + 1, 'the new leader state heard from the replica first');
    second.publish(walBatch(4, 4), 4, 4);
    leaderSeq = 4;
    const c = await source.pull(3, 1 << 20, 0);
    assert.ok(typeof c === 'object' && 'records' in c && c.records.length > 0);
    assert.equal(fallback.pulls, pullsBefore + 1, 'then it rejoined the ring');
  });

  it('ends a pull waiting on the ring when the source closes: a promotion stopping the replica waits for no pull_wait_ms', async () => {
    const sab = new SharedArrayBuffer(ringBytesFor(4096));
    new RingProducer(sab);
    const fallback = new ScriptedSource(() => ({ records: Buffer.alloc(0), leaderSeq: 0 }));
    const source = new RingSource(new RingConsumer(sab), fallback, 'ring', () => 0);
    // Checked by the leader (nothing new), the pull then waits on the empty ring.
    // A worker's event loop has more to do; Atomics.waitAsync alone does not keep it running.
    const alive = setInterval(() => undefined, 1000);
    after(() => {
      clearInterval(alive);
    });
    const t0 = Date.now();
    const pulling = source.pull(0, 1 << 20, 10_000);
    await new Promise((r) => setTimeout(r, 50));
    await source.close();
    const r = await pulling;
    const ms = Date.now() - t0;
    assert.ok(ms < 2000, `the pull ended ${ms} ms after it began, not when its source closed`);
    assert.ok(typeof r === 'object' && 'records' in r && r.records.length === 0);
  });
});
