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
      // Writes to every shard, one every millisecond or so, for ~400 ms.
      const start = out.flushes.length;
      const until = performance.now() + 400;
      for (let i = 0; performance.now() < until; i++) {
        node.logs[i % 4]!.append(`k${String(i)}`, 'v');
        await sleep(1);
      }
      const times = out.flushes.slice(start);
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      assert.ok(gaps.length >= 5, `the broadcast flushed ${times.length} times`);
      // (a timer may fire a few milliseconds early: libuv counts whole milliseconds from the loop's
      // time, read when its turn began; a flush after each poll came 2-4 ms after the one before)
      const short = gaps.filter((g) => g < FEED_MIN_INTERVAL_MS / 2);
      assert.deepEqual(
        short.map((g) => Number(g.toFixed(1))),
        [],
        `flushes closer than the feeds' poll interval (gaps ${gaps.map((g) => g.toFixed(1)).join(' ')} ms)`,
      );
    } finally {
      w.close();
    }
  });
});
