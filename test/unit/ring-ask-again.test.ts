/**
 * A ring replica that asks again for records the ring handed out (applying them failed before its
 * log took them) gets them from its leader's log at once (src/replication/ring-source.ts). It used
 * to know them handed out only once the leader's worker had published a last seq past them
 * (SLOT_LAST_SEQ, raised after the write resolves, so often after the ring had them): until then it
 * waited on an idle ring for up to `pull_wait_ms`, and a `w=N` write waited with it.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ringBytesFor } from '../../src/replication/ring-format.js';
import { RingConsumer, RingProducer } from '../../src/replication/ring.js';
import { RingSource } from '../../src/replication/ring-source.js';
import type { PullResult } from '../../src/replication/source.js';
import { ScriptedSource } from '../helpers/scripted-source.js';
import { seqsIn, walBatch } from '../helpers/ring-batches.js';

describe('a ring replica asking again for records the ring handed out', () => {
  it('gets them from the leader log at once, before the leader published their seq', async () => {
    const sab = new SharedArrayBuffer(ringBytesFor(4096));
    const producer = new RingProducer(sab);
    // The leader's log holds 1..12; its worker has published 10 so far.
    let logged = 0;
    const published = 10;
    const log = new ScriptedSource((after): PullResult => ({
      records: after < logged ? walBatch(after + 1, logged) : Buffer.alloc(0),
      leaderSeq: logged,
    }));
    const source = new RingSource(new RingConsumer(sab), log, 'ring', () => Math.min(published, logged));
    // A pending Atomics.waitAsync does not keep the event loop alive.
    const alive = setInterval(() => undefined, 1000);
    after(() => {
      clearInterval(alive);
    });
    producer.publish(walBatch(1, 10), 1, 10);
    logged = 10;
    const a = await source.pull(0, 1 << 20, 0);
    assert.ok(typeof a === 'object' && 'records' in a);
    assert.equal(seqsIn(a.records).length, 10);
    producer.publish(walBatch(11, 12), 11, 12);
    logged = 12;
    const b = await source.pull(10, 1 << 20, 0);
    assert.ok(typeof b === 'object' && 'records' in b);
    assert.deepEqual(seqsIn(b.records), [11, 12], 'from the ring');
    const pulls = log.pulls;
    // Applying 11..12 failed before the replica's log took them: it asks again from 10.
    const t0 = Date.now();
    const again = await source.pull(10, 1 << 20, 3000);
    const ms = Date.now() - t0;
    assert.ok(typeof again === 'object' && 'records' in again);
    assert.deepEqual(seqsIn(again.records), [11, 12], 'the records it asks for again');
    assert.ok(ms < 1500, `answered after ${ms} ms: it waited on the ring for records it had been handed`);
    assert.equal(log.pulls, pulls + 1, "from the leader's log");
  });
});
