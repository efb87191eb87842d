/**
 * The feeds' polls of one turn go to each worker as one `watch-polls` message (src/watch/log-polls.ts
 * on the main thread, src/watch/watch-tap.ts `watchPolls` on the worker): one message per worker,
 * each read answered with its own records or its own error, the message answered when the first of
 * its stores has a record; and feeds polling through it deliver exactly their stores' logs
 * (seeded: DISTKV_SEED replays).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DistkvError } from '../../src/errors.js';
import { MemoryLog } from '../../src/storage/memory-log.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { Feed, type FeedSubscriber } from '../../src/watch/feed.js';
import { LogPolls, type PollWorker } from '../../src/watch/log-polls.js';
import type { LogRecord } from '../../src/watch/store-log.js';
import { watchPolls } from '../../src/watch/watch-tap.js';
import type { WatchPoll, WatchPollAnswer } from '../../src/worker/messages.js';
import { seededRandom, testSeed } from '../helpers/random.js';

/** workerOf answers `watch-polls` as a worker holding `stores` (by index) does, and counts its messages. */
function workerOf(stores: Map<number, MemoryStore>): {
  send: PollWorker;
  messages: { worker: number; reads: WatchPoll[]; waitMs: number }[];
} {
  const messages: { worker: number; reads: WatchPoll[]; waitMs: number }[] = [];
  const send: PollWorker = async (worker, reads, waitMs) => {
    messages.push({ worker, reads, waitMs });
    const r = await watchPolls(
      (index) => {
        const s = stores.get(index);
        if (s === undefined) throw new DistkvError('UNAVAILABLE', `store ${index} is not open here`);
        return s;
      },
      { type: 'watch-polls', id: messages.length, reads, waitMs },
    );
    assert.ok(r.type === 'watch-polls-result');
    return r.answers;
  };
  return { send, messages };
}

const key = (s: string): Buffer => Buffer.from(s);

describe('watch: the feeds polls of a turn, one message per worker', () => {
  it('sends the reads of one turn as one message per worker, in order, with the shortest wait', async () => {
    const messages: { worker: number; reads: WatchPoll[]; waitMs: number }[] = [];
    const polls = new LogPolls(async (worker, reads, waitMs) => {
      messages.push({ worker, reads, waitMs });
      await Promise.resolve();
      return reads.map((r): WatchPollAnswer => ({
        ok: true,
        gone: false,
        buffer: null,
        length: 0,
        lastSeq: r.after,
        end: r.after + r.store,
      }));
    });
    const answers = await Promise.all([
      polls.reader(0, 1)(10, 100, 500),
      polls.reader(1, 5)(50, 100, 500),
      polls.reader(0, 2)(20, 200, 300),
    ]);
    assert.deepEqual(
      messages.map((m) => ({ worker: m.worker, stores: m.reads.map((r) => r.store), waitMs: m.waitMs })),
      [
        { worker: 0, stores: [1, 2], waitMs: 300 },
        { worker: 1, stores: [5], waitMs: 500 },
      ],
    );
    assert.deepEqual(messages[0]!.reads[1], { store: 2, after: 20, maxBytes: 200 });
    assert.deepEqual(
      answers.map((a) => a.end),
      [11, 55, 22],
    );
    // A read asked for in a later turn goes in a message of its own.
    await polls.reader(0, 3)(30, 100, 0);
    assert.equal(messages.length, 3);
  });

  it('fails only the read whose store cannot be read, and every read of a message that fails', async () => {
    const stores = new Map([[0, new MemoryStore(Date.now, new MemoryLog())]]);
    await stores.get(0)!.put(key('a'), key('1'));
    const { send } = workerOf(stores);
    const polls = new LogPolls(send);
    const [missing, held] = await Promise.allSettled([
      polls.reader(0, 7)(0, 1024, 500),
      polls.reader(0, 0)(0, 1024, 500),
    ]);
    assert.ok(missing.status === 'rejected');
    assert.ok(missing.reason instanceof DistkvError);
    assert.equal(missing.reason.code, 'UNAVAILABLE');
    assert.ok(held.status === 'fulfilled');
    assert.equal(held.value.lastSeq, 1);

    const failing = new LogPolls(() => Promise.reject(new DistkvError('UNAVAILABLE', 'worker restarting')));
    const both = await Promise.allSettled([failing.reader(0, 0)(0, 1, 1), failing.reader(0, 1)(0, 1, 1)]);
    assert.deepEqual(
      both.map((b) => b.status),
      ['rejected', 'rejected'],
    );
  });

  it('answers when the first of its stores has a record, the others with what they hold', async () => {
    const stores = new Map([
      [0, new MemoryStore(Date.now, new MemoryLog())],
      [1, new MemoryStore(Date.now, new MemoryLog())],
    ]);
    const { send } = workerOf(stores);
    const polls = new LogPolls(send);
    const t0 = performance.now();
    const reads = Promise.all([polls.reader(0, 0)(0, 1024, 1500), polls.reader(0, 1)(0, 1024, 1500)]);
    setTimeout(() => void stores.get(1)!.put(key('b'), key('2')), 20);
    const [idle, written] = await reads;
    assert.ok(performance.now() - t0 < 1000, 'answered at the first record, not after the wait');
    assert.equal(idle.records.length, 0);
    assert.equal(idle.gone, false);
    assert.equal(written.lastSeq, 1);
    assert.ok(written.records.length > 0);
  });

  it('feeds polling through it deliver exactly their logs, in order (seeded)', async () => {
    const seed = testSeed();
    const rand = seededRandom(seed);
    const stores = new Map<number, MemoryStore>();
    for (let i = 0; i < 4; i++) stores.set(i, new MemoryStore(Date.now, new MemoryLog()));
    const { send, messages } = workerOf(stores);
    const polls = new LogPolls(send);
    const got = new Map<number, LogRecord[]>();
    const feeds: { feed: Feed; sub: FeedSubscriber; stopped: Promise<void> }[] = [];
    for (const index of stores.keys()) {
      got.set(index, []);
      let idle: () => void = () => undefined;
      const stopped = new Promise<void>((resolve) => (idle = resolve));
      const feed = new Feed(polls.reader(0, index), 0, () => {
        idle();
      });
      const sub: FeedSubscriber = {
        records: (batch) => {
          for (const r of batch)
            got.get(index)!.push({ kind: r.kind, seq: r.seq, key: r.key, value: r.value });
        },
        reset: () => assert.fail(`store ${index}: reset`),
        failed: () => assert.fail(`store ${index}: failed`),
      };
      feed.subscribe(sub);
      feeds.push({ feed, sub, stopped });
    }
    const written = new Map<number, string[]>([...stores.keys()].map((i) => [i, []]));
    const deadline = performance.now() + 400;
    for (let n = 0; n < 300 && performance.now() < deadline; n++) {
      const index = Math.floor(rand() * stores.size);
      const k = `k${String(n)}`;
      written.get(index)!.push(k);
      await stores.get(index)!.put(key(k), key(String(n)));
      if (rand() < 0.3) await new Promise((resolve) => setTimeout(resolve, 1 + Math.floor(rand() * 8)));
    }
    const settle = performance.now() + 3000;
    while ([...written].some(([i, keys]) => got.get(i)!.length < keys.length) && performance.now() < settle)
      await new Promise((resolve) => setTimeout(resolve, 10));
    for (const { feed, sub } of feeds) feed.unsubscribe(sub);
    await Promise.all(feeds.map((f) => f.stopped));
    for (const [i, keys] of written) {
      const recs = got.get(i)!;
      assert.deepEqual(
        recs.map((r) => r.key.toString()),
        keys,
        `seed ${seed}: store ${i}'s feed delivered its log`,
      );
      assert.deepEqual(
        recs.map((r) => r.seq),
        keys.map((_, j) => j + 1),
        `seed ${seed}: store ${i} in seq order`,
      );
    }
    // Several stores' polls shared messages.
    const reads = messages.reduce((sum, m) => sum + m.reads.length, 0);
    assert.ok(reads > messages.length, `seed ${seed}: ${reads} reads in ${messages.length} messages`);
  });
});
