/**
 * A watch resumed at a replica whose log has not reached the client's cursor yet, in the same
 * history (docs/watch.md, "Resuming"; src/watch/behind-replica.ts): the client passed the cursor
 * at the leader, and the replica is merely behind. The shard waits for the replica's log to reach
 * the cursor (the stream's other shards go on meanwhile) and goes on after it: no snapshot of the
 * replica's older state, no change at or before the cursor again. A replica that does not get
 * there within BEHIND_WAIT_MS ends the stream with `resume` and REPLICA_BEHIND naming the shard,
 * its position and the cursor; the wait is a long-poll, not a loop of reads. A leader (and a
 * replica given a newer epoch than its history's) keeps the snapshot of a cursor past its end.
 * Before the fix, every replica case here got a snapshot at the replica's end, its cursor `0.0`.
 * On in-memory logs (test/helpers/watch-node.ts).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { BEHIND_WAIT_MS } from '../../src/watch/behind-replica.js';
import type { LogReader } from '../../src/watch/feed.js';
import { parseFrom, startOf } from '../../src/watch/watch-cursor.js';
import { type ShardSource, Watcher } from '../../src/watch/watcher.js';
import {
  applyEvents,
  ReplicaNode,
  ShardsNode,
  sleep,
  SRC,
  SseOutput,
  type SseFrame,
  sseFrames,
} from '../helpers/watch-node.js';

const LEADER: ShardSource = { ...SRC, role: 'leader' };

/** CountingNode is a replica node that counts its log reads and may publish an older end than its log's. */
class CountingNode extends ReplicaNode {
  reads = 0;
  /** published, when set, is the end the main thread sees (a pull not published yet). */
  published: number | undefined;
  override reader(): LogReader {
    return (after, maxBytes, waitMs) => {
      this.reads++;
      return this.log.read(after, maxBytes, waitMs);
    };
  }
  override lastSeq(): number {
    return this.published ?? this.log.last;
  }
}

/** seeded is a replica node whose log holds a=1, b=1, c=1 (seqs 1..3, epoch 0). */
function seeded(): CountingNode {
  const node = new CountingNode();
  for (const k of ['a', 'b', 'c']) node.log.append(k, '1');
  return node;
}

/** leaderWrites are the changes at seqs 4..6 the client saw at the leader (its cursor 0.6). */
const LEADER_WRITES: [string, string][] = [
  ['b', '2'],
  ['c', '2'],
  ['d', '1'],
];

/**
 * OPENED holds the streams a test started, closed after it whether it passed or not (an open
 * stream's feed polls on, and the test process would never end).
 */
const OPENED = new Set<Watcher>();

/** closeOpened closes the streams the test opened. */
function closeOpened(): void {
  for (const w of OPENED) w.close();
  OPENED.clear();
}

/** open starts a one-shard stream of every key at `src` from `from`. */
function open(node: ReplicaNode, from: string, src = SRC): { w: Watcher; out: SseOutput } {
  const out = new SseOutput();
  const w = new Watcher([src], node, out, { prefix: Buffer.alloc(0), values: true, maxBuffer: 1 << 20 });
  OPENED.add(w);
  w.start(new Map([[0, startOf(parseFrom(from), 0)]]), {});
  return { w, out };
}

/** until waits (bounded) for `done`. */
async function until(done: () => boolean, ms = 3000): Promise<void> {
  for (let t = 0; t < ms && !done(); t += 10) await sleep(10);
}

/** sent lists a stream's frames for a failure message. */
function sent(frames: readonly SseFrame[]): string {
  return frames.map((f) => `${JSON.stringify(f.event)} id:${f.id}`).join('\n');
}

describe('a watch resumed at a replica behind its cursor', () => {
  afterEach(closeOpened);

  it('waits for the replica to reach the cursor and goes on after it: no snapshot, nothing at or before it again', async () => {
    const node = seeded();
    const { w, out } = open(node, '0:0.6');
    // The replica pulls the leader's changes up to the cursor one at a time, then new ones.
    for (const [k, v] of LEADER_WRITES) {
      await sleep(100);
      node.log.append(k, v);
    }
    await sleep(100);
    node.log.append('e', '1');
    node.log.append('b', '3');
    await until(() => out.events().some((e) => e.version === '0.8'));
    w.close();
    const frames = sseFrames(out.text(), '0:0.6');
    const events = frames.flatMap((f) => (f.event === undefined ? [] : [f.event]));
    assert.deepEqual(
      events.map(
        (e) =>
          `${JSON.stringify(e.type)} ${JSON.stringify(e.key ?? e.cursor)}@${JSON.stringify(e.version ?? '')}`,
      ),
      ['"hello" "0:0.6"@""', '"put" "e"@"0.7"', '"put" "b"@"0.8"'],
      sent(frames),
    );
    // The client held the store's state at 0.6; the events bring it to the replica's.
    const held = new Map(node.log.stateAt(6).map((r) => [r.key, r.value!]));
    assert.deepEqual([...applyEvents(held, events)].sort(), [...node.log.state()].sort());
    assert.ok(node.reads < 12, `${node.reads} reads of the log for 5 records: a wait, not a loop`);
  });

  it('goes on at once when the replica holds the cursor and only its published end lags', async () => {
    const node = seeded();
    for (const [k, v] of LEADER_WRITES) node.log.append(k, v);
    node.published = 3;
    const { w, out } = open(node, '0:0.6');
    await sleep(50);
    node.log.append('e', '1');
    await until(() => out.events().some((e) => e.key === 'e'));
    w.close();
    const frames = sseFrames(out.text(), '0:0.6');
    assert.deepEqual(
      frames.flatMap((f) => (f.event === undefined ? [] : [`${String(f.event.type)}@${f.id}`])),
      ['hello@0:0.6', 'put@0:0.7'],
      sent(frames),
    );
  });

  it(
    'ends with resume and REPLICA_BEHIND naming the shard, its position and the cursor when the replica does not catch up in time',
    { timeout: BEHIND_WAIT_MS + 5000 },
    async () => {
      const node = seeded();
      const { w, out } = open(node, '0:0.6');
      await sleep(200);
      node.log.append('b', '2'); // one record of the three, then nothing
      const resumed = (): boolean => out.events().some((e) => e.type === 'resume');
      await until(resumed, BEHIND_WAIT_MS + 2000);
      w.close();
      const frames = sseFrames(out.text(), '0:0.6');
      const events = frames.flatMap((f) => (f.event === undefined ? [] : [f.event]));
      assert.deepEqual(
        events.map((e) => e.type),
        ['hello', 'resume'],
        sent(frames),
      );
      const resume = events[1]!;
      assert.equal(resume.reason, 'replica-behind');
      assert.equal(resume.cursor, '0:0.6', 'the cursor to resume from is the client’s');
      assert.equal(frames.at(-1)!.id, '0:0.6');
      const error = resume.error as { code: string; message: string };
      assert.equal(error.code, 'REPLICA_BEHIND');
      for (const part of ['shard 0', '0.4', '0:0.6'])
        assert.ok(error.message.includes(part), `"${error.message}" names ${part}`);
      assert.equal(node.cuts.get('replica-behind'), 1, 'counted by reason for /metrics');
      assert.ok(
        node.reads <= 4,
        `${node.reads} reads of the log in ${BEHIND_WAIT_MS} ms: a wait, not a loop`,
      );
    },
  );

  it('lets the stream’s other shards go on while one waits, its cursor naming the client’s for it meanwhile', async () => {
    const node = new ShardsNode(2);
    const sources: ShardSource[] = [node.sources[0]!, { ...node.sources[1]!, role: 'replica' }];
    for (const log of node.logs) for (const k of ['a', 'b']) log.append(k, '1');
    const out = new SseOutput();
    const w = new Watcher(sources, node, out, { prefix: Buffer.alloc(0), values: true, maxBuffer: 1 << 20 });
    OPENED.add(w);
    const from = parseFrom('0:0.2,1:0.5');
    w.start(
      new Map([
        [0, startOf(from, 0)],
        [1, startOf(from, 1)],
      ]),
      {},
    );
    await sleep(50);
    node.logs[0]!.append('x', '1');
    await until(() => out.events().some((e) => e.key === 'x'));
    const x = sseFrames(out.text(), '').find((f) => f.event?.key === 'x');
    assert.equal(x?.id, '0:0.3,1:0.5', `shard 0 goes on while shard 1 waits at its cursor: ${out.text()}`);
    for (const k of ['c', 'd', 'e', 'y']) node.logs[1]!.append(k, '1');
    await until(() => out.events().some((e) => e.key === 'y'));
    w.close();
    const shard1 = out.events().filter((e) => e.shard === 1);
    assert.deepEqual(
      shard1.map((e) => `${String(e.type)} ${String(e.key)}@${String(e.version)}`),
      ['put y@0.6'],
    );
  });
});

describe('a cursor past the end where no wait is due keeps its snapshot', () => {
  afterEach(closeOpened);

  it('at a leader: a snapshot, the cursor 0.0 until it ends', async () => {
    const node = seeded();
    const { w, out } = open(node, '0:0.6', LEADER);
    await until(() => out.events().some((e) => e.type === 'snapshot-end'));
    w.close();
    const events = out.events();
    assert.equal(events[0]!.cursor, '0:0.0', "hello's cursor");
    assert.deepEqual(
      events
        .filter((e) => String(e.type).startsWith('snapshot'))
        .map((e) => `${String(e.type)}@${String(e.version)}`),
      ['snapshot-begin@0.3', 'snapshot-end@0.3'],
    );
  });

  it('at a replica, for a cursor of a newer epoch than its history gives the seq (another history)', async () => {
    const node = seeded();
    const { w, out } = open(node, '0:1.6');
    await until(() => out.events().some((e) => e.type === 'snapshot-end'));
    w.close();
    const events = out.events();
    assert.equal(events[0]!.cursor, '0:0.0', "hello's cursor");
    assert.ok(
      events.some((e) => e.type === 'snapshot-begin'),
      `a snapshot: ${JSON.stringify(events)}`,
    );
  });
});
