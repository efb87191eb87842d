import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ringBytesFor } from '../../src/replication/ring-format.js';
import { RingConsumer, RingProducer } from '../../src/replication/ring.js';
import { RingSource } from '../../src/replication/ring-source.js';
import type { Pulled, ReplicationSource, SnapshotStream } from '../../src/replication/source.js';
import { seqsIn, walBatch } from '../helpers/ring-batches.js';

/** batch encodes puts firstSeq..lastSeq, values of `valueBytes` (10 unless given). */
const batch = (firstSeq: number, lastSeq: number, valueBytes = 10): Buffer =>
  walBatch(firstSeq, lastSeq, valueBytes);

describe('SharedArrayBuffer ring', () => {
  it('passes batches in order across many wraparounds', () => {
    const sab = new SharedArrayBuffer(ringBytesFor(4096));
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    let seq = 1;
    const got: number[] = [];
    for (let round = 0; round < 500; round++) {
      const n = 1 + (round % 7);
      assert.ok(p.publish(batch(seq, seq + n - 1), seq, seq + n - 1), `round ${round} fits`);
      seq += n;
      if (round % 3 === 2) for (const e of c.take(1 << 20)) got.push(...seqsIn(e.records));
    }
    for (const e of c.take(1 << 20)) got.push(...seqsIn(e.records));
    assert.deepEqual(
      got,
      Array.from({ length: seq - 1 }, (_, i) => i + 1),
    );
  });

  it('drops a batch that does not fit in a full ring, and says it was lapped', () => {
    const sab = new SharedArrayBuffer(ringBytesFor(4096));
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    let seq = 1;
    while (p.publish(batch(seq, seq + 9, 20), seq, seq + 9)) seq += 10;
    assert.equal(p.dropped, 1);
    assert.equal(c.takeLapped(), true);
    assert.equal(c.takeLapped(), false, 'reading the flag clears it');
    const entries = c.take(1 << 20);
    assert.equal(entries[0]!.firstSeq, 1);
    assert.equal(
      entries[entries.length - 1]!.lastSeq,
      seq - 1,
      'everything published before the drop is intact',
    );
    assert.ok(
      p.publish(batch(seq + 10, seq + 19, 20), seq + 10, seq + 19),
      'there is room again once consumed',
    );
  });

  it('wakes a waiting consumer when a batch is published', async () => {
    const sab = new SharedArrayBuffer(ringBytesFor(4096));
    const p = new RingProducer(sab);
    const c = new RingConsumer(sab);
    const seen = c.wakeValue();
    const t0 = Date.now();
    const waiting = c.wait(seen, 5000);
    setTimeout(() => p.publish(batch(1, 1), 1, 1), 20);
    await waiting;
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(c.take(1000).length, 1);
  });
});

describe('ring source', () => {
  class FakeLeaderLog implements ReplicationSource {
    readonly describe = 'fake';
    pulls = 0;
    private readonly last: () => number;
    constructor(last: () => number) {
      this.last = last;
    }
    pull(after: number): Promise<Pulled> {
      this.pulls++;
      const to = Math.min(this.last(), after + 25);
      return Promise.resolve({
        records: to > after ? batch(after + 1, to) : Buffer.alloc(0),
        leaderSeq: this.last(),
      });
    }
    snapshot(): Promise<SnapshotStream> {
      return Promise.reject(new Error('no snapshots here'));
    }
    close(): Promise<void> {
      return Promise.resolve();
    }
  }

  it('catches up from the leader log when lapped, then rejoins the ring without losing or reordering a record', async () => {
    const sab = new SharedArrayBuffer(ringBytesFor(4096));
    const p = new RingProducer(sab);
    let leaderSeq = 0;
    const log = new FakeLeaderLog(() => leaderSeq);
    const src = new RingSource(new RingConsumer(sab), log, 'test', () => leaderSeq);
    // The leader writes 400 records in batches of 10: the 4 KiB ring laps the idle replica.
    for (let s = 1; s <= 400; s += 10) {
      p.publish(batch(s, s + 9, 20), s, s + 9);
      leaderSeq = s + 9;
    }
    assert.ok(p.dropped > 0, 'the ring lapped the replica');
    const applied: number[] = [];
    let ack = 0;
    for (let i = 0; i < 200 && ack < 400; i++) {
      const r = await src.pull(ack, 1 << 20, 0);
      assert.equal(typeof r, 'object');
      if (typeof r === 'string' || 'fork' in r) return;
      const seqs = seqsIn(r.records);
      applied.push(...seqs);
      if (seqs.length > 0) ack = seqs[seqs.length - 1]!;
      if (ack === 200) {
        // New batches keep arriving while the replica catches up.
        for (let s = 401; s <= 420; s += 10) {
          p.publish(batch(s, s + 9, 20), s, s + 9);
          leaderSeq = s + 9;
        }
      }
    }
    assert.deepEqual(
      applied,
      Array.from({ length: applied.length }, (_, i) => i + 1),
      'no record lost, none twice, in order',
    );
    assert.ok(ack >= 400);
    assert.ok(log.pulls > 0, 'it used the log to catch up');
    assert.ok(src.counters.ringBatches > 0, 'and the ring once caught up');
  });

  it('wakes a replica waiting on the ring when a batch is dropped, and fetches that batch from the log at once', async () => {
    const sab = new SharedArrayBuffer(ringBytesFor(4096));
    const p = new RingProducer(sab);
    let leaderSeq = 0;
    const log = new FakeLeaderLog(() => leaderSeq);
    const src = new RingSource(new RingConsumer(sab), log, 'test', () => leaderSeq);
    p.publish(batch(1, 1), 1, 1);
    leaderSeq = 1;
    const caughtUp = await src.pull(0, 1 << 20, 0);
    assert.ok(typeof caughtUp === 'object' && 'records' in caughtUp);
    assert.deepEqual(seqsIn(caughtUp.records), [1]);
    const t0 = Date.now();
    // Atomics.waitAsync does not keep the process alive by itself.
    const alive = setTimeout(() => undefined, 6000);
    const waiting = src.pull(1, 1 << 20, 5000);
    setTimeout(() => {
      // A batch larger than the ring (one big value, or a big group commit): it cannot go in.
      assert.equal(p.publish(batch(2, 2, 8000), 2, 2), false);
      leaderSeq = 2;
    }, 50);
    const r = await waiting;
    clearTimeout(alive);
    assert.ok(typeof r === 'object' && 'records' in r);
    assert.deepEqual(seqsIn(r.records), [2], 'the dropped batch, from the log');
    // Not a whole pull_wait_ms later: a w=N write of that batch waited that long for its ack.
    assert.ok(Date.now() - t0 < 2000, `answered after ${Date.now() - t0} ms`);
  });

  it('serves again from the leader log the records it handed out when the replica asks for them again', async () => {
    const sab = new SharedArrayBuffer(ringBytesFor(4096));
    const p = new RingProducer(sab);
    let leaderSeq = 0;
    const log = new FakeLeaderLog(() => leaderSeq);
    const src = new RingSource(new RingConsumer(sab), log, 'test', () => leaderSeq);
    p.publish(batch(1, 10), 1, 10);
    leaderSeq = 10;
    const first = await src.pull(0, 1 << 20, 0);
    assert.ok(typeof first === 'object' && !('fork' in first));
    assert.deepEqual(
      seqsIn(first.records),
      Array.from({ length: 10 }, (_, i) => i + 1),
    );
    p.publish(batch(11, 12), 11, 12);
    leaderSeq = 12;
    const second = await src.pull(10, 1 << 20, 0);
    assert.ok(typeof second === 'object' && !('fork' in second));
    assert.deepEqual(seqsIn(second.records), [11, 12], 'from the ring');
    // Applying 11..12 failed on the replica: it asks again from its ack, 10, and the leader is idle.
    const t0 = Date.now();
    const again = await src.pull(10, 1 << 20, 2000);
    assert.ok(typeof again === 'object' && !('fork' in again));
    assert.deepEqual(seqsIn(again.records), [11, 12], 'the records it asks for again');
    assert.ok(Date.now() - t0 < 1500, 'without waiting for the leader to write again');
  });
});
