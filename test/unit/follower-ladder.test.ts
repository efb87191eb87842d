/**
 * A follower sends its record ladder (src/replication/record-ladder.ts) on its first pull since it
 * started, since each failed pull (a leader's restart breaks the connection: the next leader
 * may be one put back from an older copy of itself) and since each answer that closed its
 * connection (a stopping leader's `Connection: close`: the next pull may reach its next run at
 * once, without failing), and none on the pulls between: while connected it follows its leader's
 * log exactly, and 40 log reads a pull would cost for nothing.
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

/**
 * RecordingLeader answers every pull with nothing new (after a short wait) but those `fails` names,
 * and those `closes` names as a stopping leader does, and records each pull's options.
 */
class RecordingLeader implements ReplicationSource {
  readonly describe = 'recording leader';
  readonly options: PullOptions[] = [];
  private readonly fails: (n: number) => boolean;
  private readonly closes: (n: number) => boolean;

  constructor(fails: (n: number) => boolean, closes: (n: number) => boolean = () => false) {
    this.fails = fails;
    this.closes = closes;
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
    const closing = this.closes(this.options.length) ? { closing: true } : {};
    return { records: Buffer.alloc(0), leaderSeq: after, epoch: 0, ...closing };
  }

  snapshot(): Promise<SnapshotStream> {
    return Promise.reject(new Error('no snapshot here'));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** pullsOf runs a follower of a store of 10 records against `source` until it pulled `n` times. */
async function pullsOf(source: RecordingLeader, n: number) {
  const store = new MemoryStore(Date.now, new MemoryLog());
  for (let i = 1; i <= 10; i++) await store.put(Buffer.from(`k${String(i)}`), Buffer.from('v'));
  const repl = store.replication!;
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
    for (let t = 0; t < 400 && source.options.length < n; t++) await new Promise((r) => setTimeout(r, 10));
  } finally {
    await f.stop();
  }
  return { repl, seqs: source.options.slice(0, n).map((o) => o.ladder?.map((e) => e.seq)) };
}

/** LADDER is the ladder's seqs of a replica at seq 10. */
const LADDER = [10, 9, 8, 6, 2, 1];

describe("a follower's record ladder", () => {
  it('goes with its first pull and the first after each failure, and with none between', async () => {
    const source = new RecordingLeader((n) => n === 3);
    const { repl, seqs } = await pullsOf(source, 6);
    // 1 (the start), 2, 3 fails, 4 (after the failure), 5, 6.
    assert.deepEqual(seqs, [LADDER, undefined, undefined, LADDER, undefined, undefined]);
    assert.deepEqual(
      source.options[0]!.ladder!.map((e) => e.crc),
      LADDER.map((seq) => crcAt(repl, seq)),
      'each entry is the stored crc of its record',
    );
    assert.equal(source.options[1]!.epoch, 0, 'every pull names its epoch');
  });

  it('goes with the first pull after an answer that closed its connection (a stopping leader)', async () => {
    const source = new RecordingLeader(
      () => false,
      (n) => n === 2,
    );
    const { seqs } = await pullsOf(source, 5);
    // 1 (the start), 2 answered with Connection: close, 3 (may reach the leader's next run), 4, 5.
    assert.deepEqual(seqs, [LADDER, undefined, LADDER, undefined, undefined]);
  });
});
