/**
 * A ring replica takes no batch of a new producer generation before its leader checked its
 * position (src/replication/ring-format.ts, GEN; ring-source.ts, `checkedGen`). The generation
 * used to be read before the ring was taken: a leader worker that restarted in between (a new
 * LeaderState, a new producer, its first batches published) had those batches handed to the
 * replica as "checked". Nothing was wrong with them (the restarted leader's own records, above the
 * seq it started at), but the new leader state had never heard from the replica: the replica's next
 * pull, above that start, was answered with a fork (leader-state.ts, `restartFork`), and a healthy
 * replica saved the leader's own records as a divergence file and resynced from a snapshot.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeaderState } from '../../src/replication/leader-state.js';
import { ringBytesFor } from '../../src/replication/ring-format.js';
import { RingProducer } from '../../src/replication/ring.js';
import { RingSource } from '../../src/replication/ring-source.js';
import type { PullResult } from '../../src/replication/source.js';
import { ScriptedSource } from '../helpers/scripted-source.js';
import { RacingConsumer, seqsIn, walBatch } from '../helpers/ring-batches.js';

describe('a ring replica when its leader worker restarts in the middle of a pull', () => {
  it('takes none of the new producer batches before the new leader state heard from it, and is not told it forked', async () => {
    const sab = new SharedArrayBuffer(ringBytesFor(4096));
    let last = 0;
    let state = new LeaderState(() => last);
    const first = new RingProducer(sab);
    // The leader's log, as answerPull serves it: the restart check, then records after the ack.
    const log = new ScriptedSource((after): PullResult => {
      const fork = state.restartFork('ring-replica', after);
      if (fork !== undefined) return { fork };
      state.ack('ring-replica', after);
      return { records: after < last ? walBatch(after + 1, last) : Buffer.alloc(0), leaderSeq: last };
    });
    const consumer = new RacingConsumer(sab);
    const source = new RingSource(consumer, log, 'ring', () => last);
    first.publish(walBatch(1, 10), 1, 10);
    last = 10;
    const a = await source.pull(0, 1 << 20, 0);
    assert.ok(typeof a === 'object' && 'records' in a);
    assert.deepEqual(
      seqsIn(a.records),
      Array.from({ length: 10 }, (_, i) => i + 1),
    );
    // Checked and caught up, the replica pulls again; between its read of the generation and its
    // take, the leader's worker restarts at seq 10 (nothing lost) and writes seqs 11..12.
    consumer.beforeTake = () => {
      state = new LeaderState(() => last);
      const second = new RingProducer(sab);
      second.publish(walBatch(11, 12), 11, 12);
      last = 12;
    };
    const b = await source.pull(10, 1 << 20, 0);
    assert.ok(
      typeof b === 'object' && 'records' in b,
      `the pull after the restart answered ${JSON.stringify(b)}`,
    );
    assert.deepEqual(seqsIn(b.records), [11, 12]);
    const c = await source.pull(12, 1 << 20, 0);
    assert.ok(
      typeof c === 'object' && 'records' in c,
      `a healthy replica was answered ${JSON.stringify(c)}: the new leader state had not heard from it before it took the new producer's batches`,
    );
    assert.equal(c.records.length, 0);
  });
});
