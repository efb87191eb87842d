/**
 * A feed's polling cadence (src/watch/feed.ts): under steady writes it reads its store's log no
 * more often than FEED_MIN_INTERVAL_MS, and, when its subscribers write at most every so often (a
 * busy broadcast's `pollAt`), just before they can write rather than several times per write.
 * Only bounds that a loaded machine cannot break are asserted: load spaces polls further apart.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeRecord, recordSize, TYPE_PUT } from '../../src/storage/wal-format.js';
import { Feed, FEED_MIN_INTERVAL_MS, type FeedSubscriber, type LogReader } from '../../src/watch/feed.js';
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
    const { read, polls } = busyLog();
    let got = 0;
    await follow(
      read,
      {
        records: (b: readonly LogRecord[]) => (got += b.length),
        reset: () => undefined,
        failed: () => undefined,
      },
      200,
    );
    assert.ok(got >= 1 && polls.length >= 2, `${got} records in ${polls.length} polls`);
    // Timers may fire up to a millisecond early (they count whole milliseconds).
    for (let i = 1; i < polls.length; i++)
      assert.ok(
        polls[i]! - polls[i - 1]! >= FEED_MIN_INTERVAL_MS - 1,
        `poll ${i}: ${polls[i]! - polls[i - 1]!} ms`,
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
