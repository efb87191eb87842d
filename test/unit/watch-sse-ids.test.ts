/**
 * Over SSE every change event carries its own `id:`, the cursor after it (docs/watch.md,
 * "Resuming"): an EventSource that loses its stream after any event resumes with that id as
 * `Last-Event-ID` and receives exactly the changes it had not dispatched, none twice and none
 * missed, on every shard of the stream. Before, the changes of one flush shared one `id:` after
 * them, so a stream lost inside a flush resumed from the flush before and received them again
 * (and kept them if a failover then discarded them: watch-resume-model.test.ts).
 * Two shards in memory (test/helpers/watch-node.ts) written in bursts while a stream from 0.0
 * catches up (an id per event it sends alone), follows its feeds (a block per batch) and joins
 * its broadcast (one flush for every member); then the stream is cut after each event in turn and
 * resumed from the id an EventSource holds there. Randomized and seeded (DISTKV_SEED replays).
 * And the failover case: an EventSource that dispatched a change a failover then discards resumes
 * from that change's version, so it is given a snapshot instead of keeping it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFrom, startOf } from '../../src/watch/watch-cursor.js';
import { Watcher } from '../../src/watch/watcher.js';
import { seededRandom, testSeed } from '../helpers/random.js';
import { applyEvents, ReplicaNode, ShardsNode, sleep, SRC, SseOutput } from '../helpers/watch-node.js';

/** open starts an SSE stream of `prefix` from `from` (a cursor, as Last-Event-ID sends it). */
function open(node: ShardsNode, prefix: string, from: string): { w: Watcher; out: SseOutput } {
  const out = new SseOutput();
  const w = new Watcher(node.sources, node, out, {
    prefix: Buffer.from(prefix),
    values: true,
    maxBuffer: 1 << 30,
  });
  const spec = parseFrom(from);
  w.start(new Map(node.sources.map((s) => [s.shard, startOf(spec, s.shard)])), {});
  return { w, out };
}

/** changes lists the change events of `events` as `shard:version key`. */
function changes(events: readonly Record<string, unknown>[]): string[] {
  return events
    .filter((e) => e.type === 'put' || e.type === 'delete')
    .map((e) => `${String(e.shard)}:${String(e.version)} ${String(e.key)}`);
}

/** settled waits until `out` holds `n` changes (bounded). */
async function settled(out: SseOutput, n: number): Promise<void> {
  for (let i = 0; i < 1000 && changes(out.events()).length < n; i++) await sleep(5);
}

async function run(seed: number): Promise<void> {
  const rand = seededRandom(seed);
  const node = new ShardsNode(2);
  const prefix = rand() < 0.5 ? '' : 'a';
  // a few records before the stream starts: it catches up on them alone
  for (let i = 0; i < 6; i++) node.logs[i % 2]!.append(`a${String(i)}`, `v${String(i)}`);
  const main = open(node, prefix, '0.0');
  // a second stream from now: a broadcast runs before the first one joins it
  const other = open(node, prefix, 'now');
  for (let burst = 0; burst < 25; burst++) {
    const n = 1 + Math.floor(rand() * 8);
    for (let i = 0; i < n; i++) {
      const key = `${rand() < 0.7 ? 'a' : 'b'}${String(Math.floor(rand() * 5))}`;
      node.logs[Math.floor(rand() * 2)]!.append(key, rand() < 0.85 ? `v${String(burst)}` : undefined);
    }
    if (rand() < 0.7) await sleep(Math.floor(rand() * 4));
  }
  const all = node.logs.flatMap((log, shard) =>
    log.recs
      .filter((r) => r.key.startsWith(prefix))
      .map((r) => `${String(shard)}:0.${String(r.seq)} ${r.key}`),
  );
  await settled(main.out, all.length);
  main.w.close();
  other.w.close();
  const sent = main.out.dispatched();
  assert.deepEqual(
    changes(sent.map((d) => d.event)).sort(),
    [...all].sort(),
    `seed ${seed}: the stream sent every change once`,
  );
  // Cut after each event in turn: the EventSource holds that event's id.
  for (let k = 0; k < sent.length; k++) {
    const kept = changes(sent.slice(0, k + 1).map((d) => d.event));
    const resumed = open(node, prefix, sent[k]!.id);
    await settled(resumed.out, all.length - kept.length);
    await sleep(rand() < 0.2 ? 10 : 3);
    resumed.w.close();
    const got = changes(resumed.out.events());
    assert.deepEqual(
      [...kept, ...got].sort(),
      [...all].sort(),
      `seed ${seed}: cut after event ${k} (${JSON.stringify(sent[k]!.event)}, id ${sent[k]!.id}), the resumed stream ` +
        `sent ${got.length} changes for the ${all.length - kept.length} not dispatched`,
    );
  }
}

describe('watch SSE ids', () => {
  it('an EventSource cut after any event resumes from its id with exactly the changes it had not dispatched, on every shard', async () => {
    const fromEnv = process.env.DISTKV_SEED;
    const first = testSeed();
    const seeds = fromEnv !== undefined && fromEnv !== '' ? [first] : [first, first + 1, first + 2];
    for (const seed of seeds) {
      console.log(`watch SSE ids: seed ${seed}`);
      await run(seed);
    }
  });

  it('an EventSource that dispatched part of a flush a failover then discards is given a snapshot, not the new epoch after the flush before', async () => {
    // A replica stream caught up at a8 and joined its broadcast.
    const node = new ReplicaNode();
    for (let i = 1; i <= 8; i++) node.log.append(`a${i}`, `old${i}`);
    const out = new SseOutput();
    const w = new Watcher([SRC], node, out, { prefix: Buffer.alloc(0), values: true, maxBuffer: 1 << 20 });
    w.start(new Map([[0, { epoch: 0, seq: 0 }]]), {});
    for (let i = 0; i < 1000 && node.fanout.broadcastSizes().length === 0; i++) await sleep(5);
    assert.deepEqual(node.fanout.broadcastSizes(), [1], 'the caught-up stream joined a broadcast');
    // The old leader's a9, a10 come in one feed batch: one flush.
    node.log.append('a9', 'old9');
    node.log.append('a10', 'old10');
    for (let i = 0; i < 1000 && !out.events().some((e) => e.key === 'a10'); i++) await sleep(5);
    w.close();
    // The connection is lost after a9: the EventSource applied a1..a9 and holds the id a9 came with.
    const sent = out.dispatched();
    const at = sent.findIndex((d) => d.event.key === 'a9');
    assert.ok(at >= 0, 'a9 was sent');
    const state = applyEvents(
      new Map(),
      sent.slice(0, at + 1).map((d) => d.event),
    );
    // A failover discards a9, a10 (epoch 1 starts at 9); the replica is rebuilt at 8 with b9..b12.
    node.log.epochStarts.push([1, 9]);
    node.log.resync(
      8,
      Array.from({ length: 8 }, (_, i) => ({ seq: i + 1, key: `a${i + 1}`, value: `old${i + 1}` })),
    );
    for (let i = 9; i <= 12; i++) node.log.append(`b${i}`, `new${i}`);
    const again = new SseOutput();
    const w2 = new Watcher([SRC], node, again, { prefix: Buffer.alloc(0), values: true, maxBuffer: 1 << 20 });
    w2.start(new Map([[0, startOf(parseFrom(sent[at]!.id), 0)]]), {});
    for (let i = 0; i < 1000 && !again.events().some((e) => e.key === 'b12'); i++) await sleep(5);
    w2.close();
    assert.deepEqual(
      [...applyEvents(state, again.events())].sort(),
      [...node.log.state()].sort(),
      `resumed from ${sent[at]!.id}: ${JSON.stringify(again.events())}`,
    );
  });
});
