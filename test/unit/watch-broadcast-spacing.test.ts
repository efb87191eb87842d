/**
 * A broadcast's flushes are spaced by at least a feed's poll interval (src/watch/broadcast.ts
 * `spacing`), whatever its number of members: a small broadcast's feeds then poll together just
 * before each flush. Before, a broadcast of one watcher flushed 2 ms after every batch of any of
 * its feeds, each feed polling on its own clock: with 4 busy shards, up to 4 polls, 4 wake-ups of
 * the worker and 4 socket writes per interval, which cost a PUT more server CPU than the writes of
 * 100 watchers (docs/performance.md, session 37's "Watch" section).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SharedFlush } from '../../src/watch/gathered-writes.js';
import { FEED_MIN_INTERVAL_MS } from '../../src/watch/feed.js';
import { Watcher } from '../../src/watch/watcher.js';
import { ShardsNode, sleep, SseOutput } from '../helpers/watch-node.js';

/** TimedOutput notes when each flush of its broadcast came. */
class TimedOutput extends SseOutput {
  readonly flushes: number[] = [];
  override emitShared(flush: SharedFlush): void {
    if (flush.data.length > 0) this.flushes.push(performance.now());
    super.emitShared(flush);
  }
}

describe('broadcast spacing', () => {
  it("flushes one watcher of 4 busy shards at most once per feed poll interval, every shard's records together", async () => {
    const node = new ShardsNode(4);
    const out = new TimedOutput();
    const w = new Watcher(node.sources, node, out, {
      prefix: Buffer.alloc(0),
      values: true,
      maxBuffer: 1 << 30,
    });
    w.start(new Map(node.sources.map((s) => [s.shard, 'now' as const])), {});
    try {
      for (let i = 0; i < 50 && node.fanout.broadcastSizes().length === 0; i++) {
        node.logs[i % 4]!.append(`k${String(i)}`, 'v');
        await sleep(2);
      }
      assert.deepEqual(node.fanout.broadcastSizes(), [1], 'the watcher joined a broadcast');
      // Writes to every shard, one every millisecond or so, until 20 flushes (at most 3 s: a loaded
      // machine runs this loop slower, and used to leave too few flushes in a fixed 400 ms).
      const start = out.flushes.length;
      const until = performance.now() + 3000;
      for (let i = 0; out.flushes.length - start < 20 && performance.now() < until; i++) {
        node.logs[i % 4]!.append(`k${String(i)}`, 'v');
        await sleep(1);
      }
      const times = out.flushes.slice(start);
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      assert.ok(gaps.length >= 5, `the broadcast flushed ${times.length} times`);
      // The gaps are timed where the output receives each flush, not where the broadcast spaces
      // them from (the start of its flush): a thread descheduled between the two (load 18) made a
      // gap of 3-5 ms after a longer one, with the flushes themselves 9-30 ms apart. A flush after
      // each feed's poll (the bug) made most gaps 2-4 ms: their median says which it is, and short
      // gaps may be no more than a few. (A timer may also fire up to a millisecond early: libuv
      // counts whole milliseconds.)
      const sorted = [...gaps].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)]!;
      const short = gaps.filter((g) => g < FEED_MIN_INTERVAL_MS / 2);
      const shown = gaps.map((g) => g.toFixed(1)).join(' ');
      assert.ok(median >= FEED_MIN_INTERVAL_MS - 1, `median gap ${median.toFixed(1)} ms (gaps ${shown} ms)`);
      assert.ok(
        short.length <= gaps.length / 5,
        `flushes closer than half the poll interval (gaps ${shown} ms)`,
      );
    } finally {
      w.close();
    }
  });
});
