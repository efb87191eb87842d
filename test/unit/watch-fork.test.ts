/**
 * A live watch stream on a replica across a failover that discarded history.
 *
 * docs/watch.md, "Resuming": "a version whose epoch is not the one that wrote its seq (history a
 * failover discarded) gets a snapshot". That is checked only when a stream starts
 * (watcher.ts `start`). A stream that is already running follows the store's log by seq alone
 * (feed.ts, shard-watch.ts): when the replica it reads forks from the new leader below the
 * stream's position and is rebuilt (a resync whose snapshot seq is at or below that position),
 * the feed's long-poll after the old position returns the new epoch's records above it, with no
 * reset and no `gone`, so the stream goes on as if nothing happened: it keeps the discarded
 * writes and never sees the new epoch's records at or below its old position. Now each shard of
 * a stream keeps the epoch of the position it passed (shard-watch.ts); when the history gives that
 * position another epoch the stream ends with `resume` and that cursor, whose resume gets a
 * snapshot, as a reconnecting client's would; both cases fail without it.
 *
 * Also: a stream started from a version a failover discarded names that version (not the new
 * epoch's at its seq) until its snapshot ends, so a client that loses it mid-snapshot is given
 * the snapshot again; and a broadcast hands its members the epochs it passed, flushing what it
 * holds when a failover changed the epoch of its position, so records sent in the old epoch
 * are never covered by a position named in the new one. Each fails without its fix.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFrom, type Start, startOf } from '../../src/watch/watch-cursor.js';
import { Watcher } from '../../src/watch/watcher.js';
import { applyEvents, type Rec, ReplicaNode, sleep, SRC, SseOutput } from '../helpers/watch-node.js';

/** caughtUp opens a stream from 0.0 on a node whose log holds a1..a10 (epoch 0), once it passed them all. */
async function caughtUp(): Promise<{ node: ReplicaNode; out: SseOutput; w: Watcher }> {
  const node = new ReplicaNode();
  for (let i = 1; i <= 10; i++) node.log.append(`a${i}`, `old${i}`);
  const out = new SseOutput();
  const w = new Watcher([SRC], node, out, { prefix: Buffer.alloc(0), values: true, maxBuffer: 1 << 20 });
  w.start(new Map<number, Start>([[0, { epoch: 0, seq: 0 }]]), {});
  for (let i = 0; i < 500 && out.events().filter((e) => e.type === 'put').length < 10; i++) await sleep(10);
  assert.equal(out.events().filter((e) => e.type === 'put').length, 10, 'the stream caught up with 0.10');
  return { node, out, w };
}

/**
 * failover discards a9, a10: epoch 1 starts at seq 9, the replica resyncs from the new leader's
 * snapshot at seq 8 (a1..a8) and pulls the new epoch's writes b9..b`last`.
 */
function failover(node: ReplicaNode, last: number): void {
  node.log.epochStarts.push([1, 9]);
  const snap: Rec[] = [];
  for (let i = 1; i <= 8; i++) snap.push({ seq: i, key: `a${i}`, value: `old${i}` });
  node.log.resync(8, snap);
  for (let i = 9; i <= last; i++) node.log.append(`b${i}`, `new${i}`);
}

/**
 * clientState is the state of a client of `out` (a stream of keys under `prefix`, now closed):
 * a stream ended with `resume` is continued as a client does, from the cursor it was given,
 * until `done`.
 */
async function clientState(
  node: ReplicaNode,
  out: SseOutput,
  prefix: string,
  done: (o: SseOutput) => boolean,
): Promise<Map<string, string>> {
  const resume = out.events().find((e) => e.type === 'resume');
  if (resume === undefined) return out.state();
  const again = new SseOutput();
  const w2 = new Watcher([SRC], node, again, {
    prefix: Buffer.from(prefix),
    values: true,
    maxBuffer: 1 << 20,
  });
  w2.start(new Map([[0, startOf(parseFrom(String(resume.cursor)), 0)]]), {});
  for (let i = 0; i < 500 && !done(again); i++) await sleep(10);
  await sleep(50);
  w2.close();
  return out.state(again);
}

describe('a live watch on a replica across a failover that discarded history', () => {
  it('ends with the store state (a snapshot) when the replica is rebuilt below its position, not with discarded writes', async () => {
    // Epoch 0: the old leader wrote a1..a10; this replica copied all ten.
    const { node, out, w } = await caughtUp();

    // Failover: the new leader (epoch 1) held only up to seq 8; a9, a10 are discarded. This replica
    // is told DIVERGED at 8 and resyncs from the new leader's snapshot at seq 8, then pulls the
    // new epoch's writes b9.. (all before the feed's long-poll, waiting after seq 10, returns).
    failover(node, 14);
    const done = (o: SseOutput): boolean => o.events().some((e) => e.key === 'b14' || e.type === 'resume');
    for (let i = 0; i < 500 && !done(out); i++) await sleep(10);
    await sleep(50);
    w.close();
    const got = await clientState(node, out, '', done);
    const want = node.log.state();
    assert.deepEqual(
      [...got].sort(),
      [...want].sort(),
      `the stream's state is not the store's: it holds ${[...got.keys()].filter((k) => !want.has(k)).join(',') || 'nothing'} that the failover discarded and lacks ${[...want.keys()].filter((k) => !got.has(k)).join(',') || 'nothing'}`,
    );
  });
  it('keeps in its cursor the epoch of the record it passed, not the epoch a failover gave that seq since', async () => {
    const { node, out, w } = await caughtUp();
    // Failover: epoch 1 starts at seq 9 (a9, a10 are discarded); the heartbeat sends progress.
    node.log.epochStarts.push([1, 9]);
    w.progress();
    const cursor = String(out.events().at(-1)?.cursor);
    w.close();
    await sleep(600);
    // With "0:1.10" a client resuming anywhere once epoch 1 wrote seq 10 is not given the snapshot
    // that "0:0.10" (the version of a10, which it holds) gets it (watcher.ts start).
    assert.equal(cursor, '0:0.10', 'the cursor names a version the stream never passed');
  });
  it('names the discarded version it started from until its snapshot ends, so a client resuming mid-snapshot is given it again', async () => {
    // The client holds a1..a10 of epoch 0 (its last id 0:0.10); a failover discarded a9, a10 (epoch
    // 1 starts at seq 9) and this replica was rebuilt: its store is a1..a8 and the new b9..b14.
    const node = new ReplicaNode();
    for (let i = 1; i <= 10; i++) node.log.append(`a${i}`, `old${i}`);
    const held = node.log.state();
    failover(node, 14);
    const run = async (from: string): Promise<{ id: string; event: Record<string, unknown> }[]> => {
      const out = new SseOutput();
      const w = new Watcher([SRC], node, out, { prefix: Buffer.alloc(0), values: true, maxBuffer: 1 << 20 });
      w.start(new Map([[0, startOf(parseFrom(from), 0)]]), {});
      const done = (): boolean => out.events().some((e) => e.type === 'snapshot-end' || e.key === 'b14');
      for (let i = 0; i < 1000 && !done(); i++) await sleep(5);
      w.close();
      return out.dispatched();
    };
    const first = await run('0:0.10');
    assert.ok(
      first.some((f) => f.event.type === 'snapshot-end'),
      'the stream from a discarded version sends a snapshot',
    );
    // The connection is lost after each event in turn: the client resumes with the id it holds.
    for (const [k, { id, event }] of first.entries()) {
      const state = applyEvents(
        new Map(held),
        first.slice(0, k + 1).map((f) => f.event),
      );
      applyEvents(
        state,
        (await run(id)).map((f) => f.event),
      );
      assert.deepEqual(
        [...state].sort(),
        [...node.log.state()].sort(),
        `a client that lost its stream after event ${k} (${String(event.type)}) and resumed from ${id} does not hold the store's state`,
      );
    }
  });
  // The map names the new epoch before this replica forks: until its leader tells it DIVERGED and
  // it is rebuilt, its log still holds a9, a10 of epoch 0 above the new epoch's start (seq 9). A
  // stream that reads it then (a snapshot for a discarded cursor, or a catch-up from 0.0) took
  // them, labelled with the new epoch (1.9, 1.10), and went on after seq 10 once the replica was
  // rebuilt: it kept a9, a10 and never saw b9, b10.
  for (const [from, what] of [
    ['0:0.10', 'a snapshot for the discarded cursor'],
    ['0:0.0', 'a catch-up from the start'],
  ] as const)
    it(`waits for a replica the map says forked to be rebuilt before it reads it (${what})`, async () => {
      const node = new ReplicaNode();
      for (let i = 1; i <= 10; i++) node.log.append(`a${i}`, `old${i}`);
      const held = from === '0:0.10' ? node.log.state() : new Map<string, string>();
      node.log.epochStarts.push([1, 9]);
      const out = new SseOutput();
      const w = new Watcher([SRC], node, out, { prefix: Buffer.alloc(0), values: true, maxBuffer: 1 << 20 });
      w.start(new Map([[0, startOf(parseFrom(from), 0)]]), {});
      await sleep(100);
      const snap: Rec[] = [];
      for (let i = 1; i <= 8; i++) snap.push({ seq: i, key: `a${i}`, value: `old${i}` });
      node.log.resync(8, snap);
      for (let i = 9; i <= 14; i++) node.log.append(`b${i}`, `new${i}`);
      const done = (o: SseOutput): boolean => o.events().some((e) => e.key === 'b14' || e.type === 'resume');
      for (let i = 0; i < 500 && !done(out); i++) await sleep(10);
      await sleep(50);
      w.close();
      const want = node.log.state();
      const sent = out
        .events()
        .map((e) => `${JSON.stringify(e.type)}:${JSON.stringify(e.key)}@${JSON.stringify(e.version)}`)
        .join(' ');
      assert.ok(!out.events().some((e) => e.type === 'resume'), `no resume expected; sent: ${sent}`);
      assert.deepEqual(
        [...applyEvents(new Map(held), out.events())].sort(),
        [...want].sort(),
        `sent: ${sent}`,
      );
    });
  // The feed polls again at once when its long-poll waited over FEED_MIN_INTERVAL_MS (`idle`
  // 20): the new leader's records then reach the broadcast in the same window as a9, a10; with
  // `idle` 0 they usually come in the next one. With prefix `b` the discarded records match
  // nothing (the broadcast sends nothing for them) and the new leader's b9, b10 at their seqs do.
  for (const [idle, prefix] of [
    [0, ''],
    [20, ''],
    [20, 'b'],
  ] as const)
    it(`keeps the epochs its broadcast passed, not the ones a failover gave those seqs before the flush that sends them (idle ${idle} ms, prefix "${prefix}")`, async () => {
      // A stream caught up at a8 and joined its broadcast (one shard, all live).
      const node = new ReplicaNode();
      for (let i = 1; i <= 8; i++) node.log.append(`a${i}`, `old${i}`);
      const out = new SseOutput();
      const w = new Watcher([SRC], node, out, {
        prefix: Buffer.from(prefix),
        values: true,
        maxBuffer: 1 << 20,
      });
      w.start(new Map<number, Start>([[0, { epoch: 0, seq: 0 }]]), {});
      for (let i = 0; i < 1000 && node.fanout.broadcastSizes().length === 0; i++) await sleep(5);
      assert.deepEqual(node.fanout.broadcastSizes(), [1], 'the caught-up stream joined a broadcast');
      await sleep(idle);
      // The old leader's a9, a10 reach the broadcast (epoch 0), which holds them for its window...
      node.log.append('a9', 'old9');
      node.log.append('a10', 'old10');
      await new Promise<void>((resolve) => setImmediate(resolve));
      // ...while a failover discards them (epoch 1 starts at 9) and the replica is rebuilt at 8 and
      // pulls the new leader's b9..b12: the stream is sent a9, a10 and must end with `resume`.
      failover(node, 12);
      const done = (o: SseOutput): boolean => o.events().some((e) => e.key === 'b12' || e.type === 'resume');
      for (let i = 0; i < 500 && !done(out); i++) await sleep(10);
      w.progress();
      w.close();
      const got = await clientState(node, out, prefix, done);
      assert.deepEqual(
        [...got].sort(),
        [...node.log.state()].filter(([k]) => k.startsWith(prefix)).sort(),
        `the stream's state is not the store's (sent: ${out
          .events()
          .map((e) => String(e.version ?? e.cursor))
          .join(' ')})`,
      );
    });
});
