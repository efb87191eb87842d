/**
 * A feed's polling cadence (src/watch/feed.ts): under steady writes it reads its store's log no
 * more often than FEED_MIN_INTERVAL_MS, and, when its subscribers write at most every so often (a
 * busy broadcast's `pollAt`), just before they can write rather than several times per write.
 * The first runs on a virtual clock (exact, whatever the load); the second asserts only bounds
 * that a loaded machine cannot break: load spaces polls further apart.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeRecord, recordSize, TYPE_PUT } from '../../src/storage/wal-format.js';
import {
  Feed,
  type FeedClock,
  FEED_MIN_INTERVAL_MS,
  type FeedSubscriber,
  type LogReader,
} from '../../src/watch/feed.js';
import type { LogRecord } from '../../src/watch/store-log.js';

/** busyLog answers every poll at once with one new record, as a store under steady writes; it counts polls. */
function busyLog(): { read: LogReader; polls: number[] } {
  const polls: number[] = [];
  const read: LogReader = async (after) => {
    polls.push(performance.now());
    await Promise.resolve();
    const key = Buffer.from(`k${String(after + 1)}`);
    const value = Buffer.from('v');
    const b = Buffer.alloc(recordSize(key.length, value.length, TYPE_PUT));
    encodeRecord(b, 0, TYPE_PUT, after + 1, key, value);
    return { gone: false, records: b, lastSeq: after + 1, end: after + 1 };
  };
  return { read, polls };
}

/** virtualClock is a FeedClock whose time moves only when the feed sleeps. */
function virtualClock(): FeedClock {
  let t = 1000;
  return {
    now: () => t,
    sleep: async (ms) => {
      t += ms;
      await Promise.resolve();
    },
  };
}

/** follow runs a feed with `sub` for `ms`, then unsubscribes and waits for the feed to stop. */
async function follow(read: LogReader, sub: FeedSubscriber, ms: number): Promise<void> {
  let idle: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (idle = resolve));
  const feed = new Feed(read, 0, () => {
    idle();
  });
  feed.subscribe(sub);
  await new Promise((resolve) => setTimeout(resolve, ms));
  feed.unsubscribe(sub);
  await stopped;
}

describe('watch feed cadence', () => {
  it('polls a busy log at most every FEED_MIN_INTERVAL_MS when its subscriber writes at once', async () => {
    // On a virtual clock (sleeping moves it, nothing else does) the spacing is exact and a loaded
    // machine cannot shorten it: the feed's own arithmetic is what is tested, not the timers.
    const clock = virtualClock();
    const POLLS = 50;
    const polls: number[] = [];
    let got = 0;
    let idle: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => (idle = resolve));
    const sub: FeedSubscriber = {
      records: (b: readonly LogRecord[]) => (got += b.length),
      reset: () => undefined,
      failed: () => undefined,
    };
    const log = busyLog();
    const feed = new Feed(
      async (after, maxBytes, waitMs) => {
        polls.push(clock.now());
        // The last poll ends the feed: its batch reaches nobody.
        if (polls.length === POLLS) feed.unsubscribe(sub);
        return log.read(after, maxBytes, waitMs);
      },
      0,
      () => {
        idle();
      },
      clock,
    );
    feed.subscribe(sub);
    await stopped;
    assert.equal(polls.length, POLLS);
    assert.equal(got, POLLS - 1);
    for (let i = 1; i < polls.length; i++)
      assert.ok(
        polls[i]! - polls[i - 1]! >= FEED_MIN_INTERVAL_MS,
        `poll ${i}: ${polls[i]! - polls[i - 1]!} ms after the one before`,
      );
  });

  it('polls once per write of a subscriber that writes every 40 ms, just before it (pollAt)', async () => {
    const SPACING_MS = 40;
    const { read, polls } = busyLog();
    // A broadcast in miniature: it writes what it got at most every SPACING_MS.
    let lastWrite = -Infinity;
    let held = 0;
    let writes = 0;
    let timer: NodeJS.Timeout | undefined;
    const sub: FeedSubscriber = {
      records: (b) => {
        held += b.length;
        timer ??= setTimeout(
          () => {
            timer = undefined;
            lastWrite = performance.now();
            writes++;
            held = 0;
          },
          Math.max(2, lastWrite + SPACING_MS - performance.now()),
        );
      },
      reset: () => undefined,
      failed: () => undefined,
      pollAt: () => lastWrite + SPACING_MS - 2,
    };
    await follow(read, sub, 400);
    if (timer !== undefined) clearTimeout(timer);
    assert.ok(writes >= 2, `${writes} writes`);
    // Without pollAt the feed would poll every FEED_MIN_INTERVAL_MS: about 4 times per write.
    assert.ok(
      polls.length <= writes + 2,
      `${polls.length} polls for ${writes} writes (${held} held at the end)`,
    );
  });
});
