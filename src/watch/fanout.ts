/**
 * The live side of watch in one process (docs/watch.md, "Fan-out"): one feed per watched store
 * (feed.ts), shared by every watcher of it, and one broadcast per set of stores, prefix, value
 * choice and wire format (broadcast.ts), shared by every live watcher that wants those bytes.
 * Both are made on demand and forgotten when they end. WatchHub owns one per process.
 */
import { Broadcast } from './broadcast.js';
import { Feed, type LogReader } from './feed.js';
import { unforkedReader } from './forked-store.js';
import type { WireFormat } from './watch-event.js';
import type { ShardSource, WatchOptions } from './watcher.js';

/** Fanout holds the feeds and broadcasts of one process. */
export class Fanout {
  private readonly feeds = new Map<number, Feed>();
  private readonly broadcasts = new Map<string, Broadcast>();
  private readonly reader: (src: ShardSource) => LogReader;
  private readonly epochOf: (shard: number, seq: number) => number;

  constructor(reader: (src: ShardSource) => LogReader, epochOf: (shard: number, seq: number) => number) {
    this.reader = reader;
    this.epochOf = epochOf;
  }

  /** feed returns the running feed of `src`'s store, made to start after `pos` if none runs. */
  feed(src: ShardSource, pos: number): Feed {
    let f = this.feeds.get(src.store);
    if (f === undefined || f.done) {
      // A store holding history the map says was discarded is read once it is rebuilt (forked-store.ts).
      const made = new Feed(unforkedReader(this.reader(src), src.shard, this.epochOf), pos, () => {
        if (this.feeds.get(src.store) === made) this.feeds.delete(src.store);
      });
      this.feeds.set(src.store, made);
      f = made;
    }
    return f;
  }

  /**
   * broadcast returns the broadcast of `sources` (in shard order) for these options and format,
   * made if none runs, when it stands at `positions`; undefined when it stands elsewhere.
   */
  broadcast(
    sources: readonly ShardSource[],
    o: WatchOptions,
    format: WireFormat,
    positions: readonly number[],
  ): Broadcast | undefined {
    const stores = sources.map((s) => String(s.store)).join(',');
    const key = `${format} ${o.values ? '1' : '0'} ${stores} ${o.prefix.toString('latin1')}`;
    let b = this.broadcasts.get(key);
    if (b === undefined) {
      const made: Broadcast = new Broadcast(
        {
          sources: sources.map((src) => ({ shard: src.shard, feed: (pos) => this.feed(src, pos) })),
          prefix: o.prefix,
          values: o.values,
          format,
          epochOf: this.epochOf,
          onEnd: () => {
            if (this.broadcasts.get(key) === made) this.broadcasts.delete(key);
          },
        },
        positions,
      );
      this.broadcasts.set(key, made);
      b = made;
    }
    return b.isAt(positions) ? b : undefined;
  }

  /** settle hands every broadcast's members the positions they passed without events (broadcast.ts). */
  settle(): void {
    for (const b of this.broadcasts.values()) b.settle();
  }

  /** stop ends every feed after its current poll (the node drains). */
  stop(): void {
    for (const f of this.feeds.values()) f.stop();
  }

  /** broadcastSizes lists the member count of each running broadcast (for tests). */
  broadcastSizes(): number[] {
    return [...this.broadcasts.values()].map((b) => b.size);
  }
}
