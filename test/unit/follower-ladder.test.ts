/**
 * A follower sends its record ladder (src/replication/record-ladder.ts) on its first pull since it
 * started and since each failed pull (a leader's restart breaks the connection: the next leader
 * may be one put back from an older copy of itself), and none on the pulls between: while
 * connected it follows its leader's log exactly, and 40 log reads a pull would cost for nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Follower } from '../../src/replication/follower.js';
import { crcAt } from '../../src/replication/record-ladder.js';
import type {
  PullOptions,
  PullResult,
  ReplicationSource,
  SnapshotStream,
} from '../../src/replication/source.js';
import { MemoryLog } from '../../src/storage/memory-log.js';
import { MemoryStore } from '../../src/storage/memory-store.js';

/** RecordingLeader answers every pull with nothing new (after a short wait) but those `fails` names, and records each pull's options. */
class RecordingLeader implements ReplicationSource {
  readonly describe = 'recording leader';
  readonly options: PullOptions[] = [];
  private readonly fails: (n: number) => boolean;

  constructor(fails: (n: number) => boolean) {
    this.fails = fails;
  }

  async pull(
    after: number,
    _maxBytes: number,
    waitMs: number,
    options: PullOptions = {},
  ): Promise<PullResult> {
    this.options.push(options);
    if (this.fails(this.options.length)) throw new Error('connect ECONNREFUSED');
    await new Promise((r) => setTimeout(r, Math.min(waitMs, 10)));
    return { records: Buffer.alloc(0), leaderSeq: after, epoch: 0 };
  }

  snapshot(): Promise<SnapshotStream> {
    return Promise.reject(new Error('no snapshot here'));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe("a follower's record ladder", () => {
  it('goes with its first pull and the first after each failure, and with none between', async () => {
    const store = new MemoryStore(Date.now, new MemoryLog());
    for (let i = 1; i <= 10; i++) await store.put(Buffer.from(`k${String(i)}`), Buffer.from('v'));
    const repl = store.replication!;
    const source = new RecordingLeader((n) => n === 3);
    const f = new Follower({
      source,
      store: () => repl,
      rebuild: () => Promise.reject(new Error('not reached')),
      reopen: () => Promise.reject(new Error('not reached')),
      publish: () => undefined,
      pullMaxBytes: 1 << 20,
      pullWaitMs: 10,
    });
    f.start();
    try {
      for (let t = 0; t < 400 && source.options.length < 6; t++) await new Promise((r) => setTimeout(r, 10));
    } finally {
      await f.stop();
    }
    const seqs = source.options.slice(0, 6).map((o) => o.ladder?.map((e) => e.seq));
    // 1 (the start), 2, 3 fails, 4 (after the failure), 5, 6.
    const ladder = [10, 9, 8, 6, 2, 1];
    assert.deepEqual(seqs, [ladder, undefined, undefined, ladder, undefined, undefined]);
    assert.deepEqual(
      source.options[0]!.ladder!.map((e) => e.crc),
      ladder.map((seq) => crcAt(repl, seq)),
      'each entry is the stored crc of its record',
    );
    assert.equal(source.options[1]!.epoch, 0, 'every pull names its epoch');
  });
});
