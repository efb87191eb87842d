/**
 * The record ladder (src/replication/record-ladder.ts; docs/failover.md, "A leader put back from
 * an older copy of itself"). A leader restored from an older copy of its own directory keeps its
 * history id and epoch and writes other records at seqs its replica holds: history ids and epochs
 * cannot tell the two logs apart, and the replica was served the leader's records on top of its
 * own. A replica's first pull after a (re)connect carries the crcs of its records at after, after-1,
 * after-2, after-4, ... 1; the leader answers one that differs from its own record there with a fork
 * at the highest matching entry below the lowest differing one. Entries the leader lacks decide
 * nothing, so a ladder that matches where the leader has records is never a fork (a leader that
 * started behind its replica keeps holding it back instead).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LocalSource } from '../../src/replication/local-source.js';
import { answerPull, type PullLeader } from '../../src/replication/pull-answer.js';
import {
  buildLadder,
  crcAt,
  encodeLadder,
  type LadderEntry,
  ladderFork,
  ladderSeqs,
  MAX_LADDER_ENTRIES,
  parseLadder,
} from '../../src/replication/record-ladder.js';
import type { ShardEpochs } from '../../src/replication/epochs.js';
import { MemoryLog } from '../../src/storage/memory-log.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import type { MemoryReplication } from '../../src/storage/memory-replication.js';
import { recordBatch, seqsOf } from '../helpers/record-batch.js';

/** crcs gives `ladderFork` the leader's crcs: `same` seqs match the ladder, `other` differ, the rest it lacks. */
function crcs(same: number[], other: number[]): (seq: number) => number | undefined {
  return (seq) => (same.includes(seq) ? seq * 7 : other.includes(seq) ? seq * 7 + 1 : undefined);
}

/** ladderOf is a ladder whose entry at each seq has the crc `crcs` calls matching. */
function ladderOf(seqs: number[]): LadderEntry[] {
  return seqs.map((seq) => ({ seq, crc: seq * 7 }));
}

/** logOf is a replica's log: the leader's records (`recordBatch`) through `sameThrough`, other ones after it through `last`. */
function logOf(sameThrough: number, last: number, retain = Infinity): MemoryLog {
  const log = new MemoryLog(retain);
  if (sameThrough > 0) log.append(recordBatch(1, sameThrough));
  if (last > sameThrough) log.append(recordBatch(sameThrough + 1, last, () => Buffer.from('other')));
  return log;
}

/** leaderOf is a memory leader holding `n` writes, the same records as recordBatch(1, n). */
async function leaderOf(n: number): Promise<MemoryReplication> {
  const store = new MemoryStore(Date.now, new MemoryLog());
  for (let seq = 1; seq <= n; seq++) await store.put(Buffer.from(`k${seq}`), Buffer.from(`v${seq}`));
  return store.replication!;
}

/** pullLeader answers pulls from `repl` as its worker does, in `epochs`, with no restart check. */
function pullLeader(
  repl: MemoryReplication,
  epochs: ShardEpochs = { epoch: 0, history: [] },
  acks: number[] = [],
): PullLeader {
  return {
    name: 'store 0',
    store: () => repl,
    epochs: () => epochs,
    ack: (_r, seq) => acks.push(seq),
  };
}

const pull = { maxBytes: 1 << 20, waitMs: 0, replica: '127.0.0.1:2', epoch: 0 };

/** counted is `repl` whose readLog calls are noted in `reads` (the `after` of each). */
function counted(repl: MemoryReplication, reads: number[]): MemoryReplication {
  return new Proxy(repl, {
    get(target, key) {
      if (key === 'readLog')
        return (after: number, maxBytes: number) => {
          reads.push(after);
          return target.readLog(after, maxBytes);
        };
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe('the seqs of a replica’s ladder', () => {
  it('are after, after-1, after-2, after-4, ... then 1, and none at 0', () => {
    assert.deepEqual(ladderSeqs(100), [100, 99, 98, 96, 92, 84, 68, 36, 1]);
    assert.deepEqual(ladderSeqs(3), [3, 2, 1]);
    assert.deepEqual(ladderSeqs(1), [1]);
    assert.deepEqual(ladderSeqs(0), []);
  });

  it('stay within the bound for the largest seq', () => {
    const seqs = ladderSeqs(Number.MAX_SAFE_INTEGER);
    assert.ok(seqs.length <= MAX_LADDER_ENTRIES, `${String(seqs.length)} entries`);
    assert.equal(seqs[seqs.length - 1], 1);
    assert.deepEqual(
      parseLadder(encodeLadder(seqs.map((seq) => ({ seq, crc: 0xffffffff }))), seqs[0]!).length,
      seqs.length,
    );
  });
});

describe('a replica’s ladder read from its log', () => {
  it('holds the stored crc of its record at each seq', () => {
    const log = logOf(10, 10);
    const ladder = buildLadder(log, 10)!;
    assert.deepEqual(
      ladder.map((e) => e.seq),
      [10, 9, 8, 6, 2, 1],
    );
    const all = recordBatch(1, 10);
    assert.equal(ladder[ladder.length - 1]!.crc, all.readUInt32LE(0), 'the first u32 of its framing');
    assert.equal(crcAt(log, 11), undefined, 'a seq past its log');
    assert.equal(crcAt(log, 0), undefined);
  });

  it('leaves out what its log no longer holds, and is none when it holds nothing', () => {
    const compacted = logOf(20, 20, 5);
    assert.deepEqual(
      buildLadder(compacted, 20)!.map((e) => e.seq),
      [20, 19, 18, 16],
    );
    const rebuilt = new MemoryLog();
    rebuilt.startAfter(50); // a replica loaded from a snapshot at 50 holds no record of its own
    assert.equal(buildLadder(rebuilt, 50), undefined);
    assert.equal(buildLadder(new MemoryLog(), 0), undefined);
  });

  it('leaves out a record its log cannot read, instead of failing the pull', () => {
    const log = logOf(10, 10);
    const damaged = {
      readLog: (after: number, maxBytes: number) => {
        if (after < 5) throw new Error('CORRUPTION: a damaged older segment');
        return log.readLog(after, maxBytes);
      },
    };
    assert.deepEqual(
      buildLadder(damaged, 10)!.map((e) => e.seq),
      [10, 9, 8, 6],
    );
  });
});

describe('the fork a ladder names', () => {
  it('is none when every entry the leader holds matches', () => {
    assert.equal(ladderFork(ladderOf([100, 99, 98, 96, 92]), crcs([100, 99, 98, 96, 92], [])), undefined);
  });

  it('is the next matching entry below when only the top one differs', () => {
    assert.equal(ladderFork(ladderOf([100, 99, 98, 96]), crcs([99, 98, 96], [100])), 99);
  });

  it('is the highest matching entry below the lowest differing one, though an entry above it matched', () => {
    // 100 matches, 96 differs: the records at 97..100 cannot be trusted either way.
    assert.equal(ladderFork(ladderOf([100, 99, 98, 96, 92, 84]), crcs([100, 98, 92, 84], [99, 96])), 92);
  });

  it('counts no entry the leader lacks (above its last seq, compacted) as matching', () => {
    // 100 is above the leader's last seq, 98 and 92 compacted: 96 is the highest known match below 99.
    assert.equal(ladderFork(ladderOf([100, 99, 98, 96, 92]), crcs([96], [99])), 96);
    assert.equal(ladderFork(ladderOf([100, 99, 98]), crcs([], [99])), 0, 'none below: fork 0');
    assert.equal(ladderFork(ladderOf([100, 99]), crcs([], [])), undefined, 'nothing known: no fork');
  });

  it('is none for an empty ladder', () => {
    assert.equal(ladderFork([], crcs([], [1])), undefined);
  });

  it('counts only entries at or below a bound (the fork the replica’s epoch gives)', () => {
    assert.equal(ladderFork(ladderOf([30, 29, 28, 26, 22]), crcs([22], [30, 29, 28, 26]), 25), undefined);
    assert.equal(ladderFork(ladderOf([30, 29, 28, 26, 22, 14]), crcs([14], [30, 22]), 25), 14);
  });
});

describe('the ladder parameter', () => {
  it('reads back what the replica writes', () => {
    const ladder = [
      { seq: 100, crc: 0xdeadbeef },
      { seq: 36, crc: 0 },
      { seq: 1, crc: 0x1 },
    ];
    assert.equal(encodeLadder(ladder), '100:deadbeef,36:0,1:1');
    assert.deepEqual(parseLadder('100:deadbeef,36:0,1:1', 100), ladder);
  });

  /** spread is a ladder of `n` entries spread evenly over 1..after, not at its ladder's seqs. */
  const spread = (n: number, after: number): string =>
    Array.from({ length: n }, (_, i) => `${String(after - Math.floor((i * (after - 1)) / (n - 1)))}:1`).join(
      ',',
    );

  for (const [text, after, why] of [
    ['', 10, 'empty'],
    ['5', 10, 'no crc'],
    ['5:zz', 10, 'not hex'],
    ['5:123456789', 10, 'a crc over 32 bits'],
    ['0:1', 10, 'seq 0'],
    ['3:1,5:1', 10, 'seqs ascending'],
    ['5:1,5:2', 10, 'a seq twice'],
    ['11:1', 10, 'a seq above after'],
    ['5:1,,4:1', 10, 'an empty entry'],
    [
      Array.from({ length: MAX_LADDER_ENTRIES + 1 }, (_, i) => `${String(1000 - i)}:1`).join(','),
      1000,
      'too many entries',
    ],
    ['9'.repeat(5000), 10000, 'too long'],
    // The shape only a replica's ladder has (ladderSeqs): what a leader reads for it stays bounded.
    [spread(10, 100), 100, 'more entries than the 9 of a replica at 100'],
    [spread(MAX_LADDER_ENTRIES, 100_000), 100_000, '64 entries spread over the log'],
    ['100:1,97:1', 100, 'a seq that is not one of after, after-1, after-2, after-4, ..., 1'],
    ['97:1,93:1,85:1', 100, 'seqs of the ladder of another after (101)'],
  ] as const)
    it(`is refused as INVALID_ARGUMENT naming it: ${why}`, () => {
      assert.throws(
        () => parseLadder(text, after),
        (err: Error & { code?: string }) => err.code === 'INVALID_ARGUMENT' && /^ladder /.test(err.message),
      );
    });

  it('takes any part of a replica’s ladder, in its order (entries its log no longer holds left out)', () => {
    for (const after of [1, 2, 3, 100, 65_537, 2 ** 40 + 3]) {
      const seqs = ladderSeqs(after);
      for (const keep of [seqs, seqs.filter((_, i) => i % 2 === 1), seqs.slice(0, 1), seqs.slice(-1)]) {
        if (keep.length === 0) continue; // a replica holding none of its records sends no ladder
        const ladder = keep.map((seq) => ({ seq, crc: seq % 0xffff }));
        assert.deepEqual(parseLadder(encodeLadder(ladder), after), ladder, `after ${String(after)}`);
      }
    }
  });
});

describe('a pull with a ladder', () => {
  it('is served as before when the replica holds the leader’s records', async () => {
    const leader = await leaderOf(40);
    const ladder = buildLadder(logOf(30, 30), 30)!;
    const acks: number[] = [];
    const a = await answerPull(pullLeader(leader, undefined, acks), { ...pull, after: 30, ladder });
    assert.equal(a.fork, undefined);
    assert.deepEqual(seqsOf(a.records), [31, 32, 33, 34, 35, 36, 37, 38, 39, 40]);
    assert.deepEqual(acks, [30]);
  });

  it('is answered with a fork below the first record that differs, not served on top of it', async () => {
    const leader = await leaderOf(40);
    // The replica's records 21..30 are not the leader's: its ladder is 30, 29, 28, 26, 22, 14, 1.
    const ladder = buildLadder(logOf(20, 30), 30)!;
    const acks: number[] = [];
    const a = await answerPull(pullLeader(leader, undefined, acks), { ...pull, after: 30, ladder });
    assert.equal(a.fork, 14, `answered ${String(a.records.length)} bytes on top of other records`);
    assert.equal(a.records.length, 0);
    assert.deepEqual(acks, [], 'a forked position is no ack');
    // Without a ladder (an older replica, the seed's) it is not checked: served on top, as before.
    const unchecked = await answerPull(pullLeader(leader), { ...pull, after: 30 });
    assert.equal(unchecked.fork, undefined);
    assert.equal(unchecked.records.length > 0, true);
  });

  it('is no fork when the replica is ahead and the records the leader holds match (REPLICA_AHEAD as before)', async () => {
    const leader = await leaderOf(20);
    const ladder = buildLadder(logOf(30, 30), 30)!;
    await assert.rejects(answerPull(pullLeader(leader), { ...pull, after: 30, ladder }), {
      code: 'REPLICA_AHEAD',
    });
  });

  it('keeps a fork the replica’s epoch gives when the ladder differs only above it', async () => {
    const leader = await leaderOf(40);
    const epochs = { epoch: 1, history: [{ epoch: 1, firstSeq: 26 }] };
    const above = buildLadder(logOf(25, 30), 30)!;
    assert.equal(
      (await answerPull(pullLeader(leader, epochs), { ...pull, after: 30, ladder: above })).fork,
      25,
    );
    const below = buildLadder(logOf(20, 30), 30)!;
    assert.equal(
      (await answerPull(pullLeader(leader, epochs), { ...pull, after: 30, ladder: below })).fork,
      14,
    );
  });

  it('from a replica that knows a newer epoch is refused STALE_LEADER first, its ladder unread', async () => {
    const leader = await leaderOf(40);
    const ladder = buildLadder(logOf(20, 30), 30)!;
    await assert.rejects(answerPull(pullLeader(leader), { ...pull, after: 30, epoch: 3, ladder }), {
      code: 'STALE_LEADER',
    });
  });

  it('on the leader’s worker (LocalSource) is answered the same fork', async () => {
    const leader = await leaderOf(40);
    const source = new LocalSource(() => leader, 'local store 0');
    const ladder = buildLadder(logOf(20, 30), 30)!;
    assert.deepEqual(await source.pull(30, 1 << 20, 0, { ladder }), { fork: 14, epoch: 0 });
    assert.deepEqual(
      seqsOf(
        (
          (await source.pull(30, 1 << 20, 0, { ladder: buildLadder(logOf(30, 30), 30)! })) as {
            records: Buffer;
          }
        ).records,
      ),
      [31, 32, 33, 34, 35, 36, 37, 38, 39, 40],
    );
  });

  it('that is not of a replica’s shape is refused INVALID_ARGUMENT, none of its entries read', async () => {
    const leader = await leaderOf(40);
    const reads: number[] = [];
    const bad: LadderEntry[][] = [
      ladderOf([30, 27, 24, 21, 18, 15, 12, 9, 6, 3]), // 10 entries, spread: a replica at 30 sends at most 7
      ladderOf([30, 25]), // 25 is not one of 30's
      ladderOf([31]), // above after
      ladderOf([22, 26]), // ascending
    ];
    for (const ladder of bad)
      await assert.rejects(answerPull(pullLeader(counted(leader, reads)), { ...pull, after: 30, ladder }), {
        code: 'INVALID_ARGUMENT',
      });
    assert.deepEqual(reads, []);
  });

  it('reads the leader’s log up to the lowest entry that differs, not above it', async () => {
    const leader = await leaderOf(40);
    // The replica's records 2..30 are not the leader's: its ladder's lowest entry above 1 differs.
    const ladder = buildLadder(logOf(1, 30), 30)!;
    assert.deepEqual(
      ladder.map((e) => e.seq),
      [30, 29, 28, 26, 22, 14, 1],
    );
    const reads: number[] = [];
    const a = await answerPull(pullLeader(counted(leader, reads)), { ...pull, after: 30, ladder });
    assert.equal(a.fork, 1);
    assert.deepEqual(reads, [0, 13], 'the records at 1 and 14 only');
    // A ladder that matches is read whole, then the pull: as many reads as entries, and one.
    reads.length = 0;
    await answerPull(pullLeader(counted(leader, reads)), {
      ...pull,
      after: 30,
      ladder: buildLadder(logOf(30, 30), 30)!,
    });
    assert.equal(reads.length, 8);
  });

  it('names the fork the comparison of every entry names, for any ladder (seeded)', () => {
    /** allEntries is the fork as first specified: the highest match below the lowest differing entry at or below `bound`. */
    const allEntries = (ladder: LadderEntry[], crc: (seq: number) => number | undefined, bound: number) => {
      let lowest: number | undefined;
      const matched: number[] = [];
      for (const e of ladder) {
        const c = e.seq > bound ? undefined : crc(e.seq);
        if (c === undefined) continue;
        if (c === e.crc) matched.push(e.seq);
        else if (lowest === undefined || e.seq < lowest) lowest = e.seq;
      }
      return lowest === undefined ? undefined : Math.max(0, ...matched.filter((seq) => seq < lowest));
    };
    const seed = Date.now() % 100_000;
    let state = seed;
    const next = (n: number): number => {
      state = (state * 48271) % 2147483647;
      return state % n;
    };
    for (let i = 0; i < 2000; i++) {
      const after = 1 + next(5000);
      const ladder = ladderOf(ladderSeqs(after).filter(() => next(4) > 0));
      const kinds = new Map(ladder.map((e) => [e.seq, next(3)])); // 0 same, 1 other, 2 lacked
      const crc = (seq: number): number | undefined =>
        kinds.get(seq) === 0 ? seq * 7 : kinds.get(seq) === 1 ? seq * 7 + 1 : undefined;
      const bound = next(2) === 0 ? Number.POSITIVE_INFINITY : next(after + 1);
      assert.equal(
        ladderFork(ladder, crc, bound),
        allEntries(ladder, crc, bound),
        `seed ${String(seed)}, case ${String(i)}`,
      );
    }
  });

  it('on the leader’s worker, held behind while the leader took no write, is refused LEADER_BEHIND before its ladder is read', async () => {
    const leader = await leaderOf(20);
    const source = new LocalSource(() => leader, 'local store 0', undefined, undefined, true);
    await assert.rejects(source.pull(30, 1 << 20, 0, { ladder: buildLadder(logOf(10, 30), 30)! }), {
      code: 'LEADER_BEHIND',
    });
  });
});
