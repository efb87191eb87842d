/**
 * `client.watch(prefix, {from})`: the changes of the keys under a prefix as an async iterator
 * (docs/watch.md, "Resuming"). It opens one stream per node that leads some of the prefix's
 * shards (`GET /watch?shards=...`): the binary stream (watch-binary-format.ts) in its version 2,
 * version 1 from a server that writes only that, or Server-Sent Events from a server that does
 * not offer it. It merges them, and keeps each shard's
 * position: after a dropped connection, a node restart, a 307 to another node or a `resume` from
 * a server that found it too slow, it reconnects with `from` = the positions it holds, so every
 * shard's events continue exactly after the last one yielded (duplicates across a reconnect are
 * dropped by version), or with a snapshot when the server's log no longer reaches back.
 *
 * The watch starts when `watch()` is called (its map loaded, its streams opened then), not at the
 * first `next()`: a change made after the call and before the loop is yielded, once its stream is
 * open (with `progress: true`, the first event of each stream says so). A stream that brings
 * nothing for STREAM_SILENCE_MS, not even the node's keep-alive, is taken as lost and reopened
 * (watch-silence.ts); the streams themselves are watch-streams.ts.
 *
 * Each yielded event carries `cursor`: pass it as `from` later to resume after that event.
 * Reading is paced by the consumer: a stream stops reading while HIGH_WATER events wait, so what a
 * watch not yet (or slowly) iterated holds is bounded; the node then cuts the stream (`resume`,
 * reason `slow`) once it holds max_buffer_bytes for it, and the watch resumes from its positions
 * when the consumer reads again.
 */
import type { Agent } from 'undici';
import { DistkvError } from '../errors.js';
import type { ShardMap } from '../routing/shard-map.js';
import { formatVersion } from '../routing/version.js';
import { type FromSpec, parseFrom } from '../watch/watch-cursor.js';
import { undici } from '../util/lazy-undici.js';
import { checkInput } from './key-bytes.js';
import { closedError } from './node-pools.js';
import { checkWatchOptions, endOnReturn } from './watch-call.js';
import { type WatchChange, WatchEvents } from './watch-decode.js';
import { STREAM_SILENCE_MS } from './watch-silence.js';
import { groupByLeader, NodeStreams } from './watch-streams.js';

export type { WatchChange } from './watch-decode.js';

/** WatchOptions configure a watch. */
export interface WatchOptions {
  /**
   * from: a cursor to start after; default: from now on. A version a write returned is one
   * shard's position: alone it positions every shard at its seq, exact only for a watch of that
   * shard; name it `SHARD:E.S` otherwise (docs/watch.md, "When a watch starts").
   */
  from?: string;
  /** values: false omits values (default true). */
  values?: boolean;
  /**
   * progress: true also yields `{ type: 'progress', shard: -1, cursor }` whenever the position
   * moved without a change to yield (a stream started, or records of other keys passed), in order
   * with the changes: the cursor of the last event yielded is then where the watch stands, not
   * where its last change was (`distkv watch` prints it on Ctrl-C). Default false.
   */
  progress?: boolean;
  /**
   * signal ends the watch: its streams close and the iteration ends (the `for await` loop exits)
   * without an error, unlike a call, which rejects with the signal's reason.
   */
  signal?: AbortSignal;
  /**
   * onStream is told when one of the watch's streams (one per node leading some of its shards)
   * goes down and when it is back, so a caller can tell "no changes" from "disconnected": the
   * watch itself reconnects and resumes exactly either way. `down` comes for each attempt that
   * failed (the stream ended, the node refused or could not be reached), `up` once when a stream
   * opens after one or more of them. A hook that throws is ignored.
   */
  onStream?: (notice: WatchStreamNotice) => void;
}

/** WatchStreamNotice is what WatchOptions.onStream is told about one stream of a watch. */
export interface WatchStreamNotice {
  /** state: `down` (an attempt failed or the stream ended; the watch tries again) or `up` (open again). */
  state: 'down' | 'up';
  /** node is the node ("host:port") the stream was at (down) or is at now (up). */
  node: string;
  /** shards are the shard numbers the stream carries. */
  shards: readonly number[];
  /** attempt: down, the number of the attempt that comes next (1 after an open stream ended); up, the attempts it took. */
  attempt: number;
  /** reason says why it is down (the error, the node's refusal, or that the node ended the stream); "" when up. */
  reason: string;
  /** downMs is, when up, how long the stream was down. */
  downMs?: number;
  /** retryInMs is, when down, how long the watch waits before the next attempt. */
  retryInMs?: number;
}

/** WatchSource is what a watch needs from its client. */
export interface WatchSource {
  topology(signal?: AbortSignal): Promise<ShardMap>;
  reload(): Promise<void>;
  scheme: string;
  ca: string | Buffer | undefined;
  /** closed reports whether the client was closed: the watch then sends no further request (node-pools.ts). */
  closed(): boolean;
  /** onClose calls `listener` when the client is closed (at once if it is); the function returned forgets it. */
  onClose(listener: () => void): () => void;
  /** checkRedirect refuses a redirect by node `by` to `to` outside the cluster (redirects.ts checkRedirect). */
  checkRedirect(to: URL, by: string, what: string): Promise<void>;
}

/** HIGH_WATER is how many events may wait for the consumer before the streams stop reading. */
const HIGH_WATER = 1000;

/**
 * watchPrefix starts a watch (see the design block) at once: its map is loaded and its streams
 * are opened when it is called, not at the first `next()` (a generator's body runs only then, and
 * the changes made between the call and the loop were lost). What its streams read waits for the
 * consumer, bounded (HIGH_WATER, then the node's own bound: a `resume` the watch follows). Its
 * iterator's return() ends it at once, and it may be iterated once (watch-call.ts).
 */
export function watchPrefix(
  source: WatchSource,
  prefix: string | Uint8Array,
  options: WatchOptions = {},
): AsyncGenerator<WatchChange, void, undefined> {
  return endOnReturn((ended) => startWatch(source, prefix, options, ended));
}

/**
 * startWatch starts the watch's streams in the background and returns the generator that yields
 * what they read. Everything the watch holds (listeners, streams, its agent) goes when it stops:
 * its signal, its return(), the client's close(), or its failure ended by the consumer, whether
 * or not the generator ever ran.
 */
function startWatch(
  source: WatchSource,
  prefix: string | Uint8Array,
  options: WatchOptions,
  ended: AbortSignal,
): AsyncGenerator<WatchChange, void, undefined> {
  // Refused arguments reject the first next(), as any failure of the watch does; nothing starts.
  let from: FromSpec;
  try {
    checkInput(prefix, 'prefix');
    checkWatchOptions(options);
    from = parseFrom(options.from ?? '');
  } catch (err) {
    return refused(err);
  }
  const outer = options.signal;
  const stop = new AbortController();
  const onAbort = (): void => {
    stop.abort(outer?.reason);
  };
  const onEnded = (): void => {
    stop.abort();
  };
  // The client's close() ends the watch at once, its open streams too, with CLIENT_CLOSED: the
  // caller let go of the client, and a stream left open kept a connection it believed closed.
  // Only a close that came first ends it so: a watch its caller's signal (or return()) stopped
  // already ends without an error, as documented, when the caller then closes the client (the
  // usual shutdown, `ac.abort(); await client.close()`, made the loop throw CLIENT_CLOSED).
  const closeReason = closedError();
  const stoppedByClose = (): boolean => stop.signal.reason === closeReason;
  const queue: WatchChange[] = [];
  let wake: (() => void) | undefined;
  let resumeReading: (() => void) | undefined;
  let failure: unknown;
  let agent: Agent | undefined;
  let agentClosed: Promise<void> = Promise.resolve();
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  let forgetClose = (): void => undefined;
  stop.signal.addEventListener(
    'abort',
    () => {
      forgetClose();
      outer?.removeEventListener('abort', onAbort);
      ended.removeEventListener('abort', onEnded);
      notify();
      resumeReading?.();
      if (agent !== undefined) agentClosed = agent.close().catch(() => undefined);
    },
    { once: true },
  );
  outer?.addEventListener('abort', onAbort, { once: true });
  ended.addEventListener('abort', onEnded, { once: true });
  forgetClose = source.onClose(() => {
    stop.abort(closeReason);
  });
  // A signal aborted already fires no 'abort' event: the watch waited for changes for ever.
  if (outer?.aborted === true) onAbort();
  const stopped = (): boolean => stop.signal.aborted;
  // A failure ends the watch at once (its other streams too); the consumer gets what was queued, then it.
  const fail = (err: unknown): void => {
    failure ??= err;
    notify();
    stop.abort();
  };
  // the cursor of the last event queued, so a progress event is queued only when it says more
  let queuedCursor = '';
  const events = new WatchEvents(
    options.values !== false,
    (change) => {
      queue.push(change);
      queuedCursor = change.cursor;
    },
    () => {
      if (options.progress !== true) return;
      const cursor = events.positions.cursor();
      if (cursor === '' || cursor === queuedCursor) return;
      queue.push({ type: 'progress', shard: -1, cursor });
      queuedCursor = cursor;
    },
  );

  const streams = async (): Promise<void> => {
    const Agent = (await undici()).Agent;
    if (stopped()) return;
    const own = new Agent({
      ...(source.ca === undefined ? {} : { connect: { ca: source.ca } }),
      bodyTimeout: STREAM_SILENCE_MS,
      headersTimeout: STREAM_SILENCE_MS,
    });
    agent = own;
    let map: ShardMap;
    try {
      map = await source.topology(stop.signal);
    } catch (err) {
      // Stopped while the map loaded: the iteration ends as documented, not with the signal's reason.
      if (!stopped()) throw err;
      return;
    }
    if (stopped()) return;
    const all = map.shards.map((s) => s.idx);
    checkFromShards(from, all);
    // Every shard starts where `from` puts it, before its stream says so: a cursor yielded before
    // a shard's node answered (down, starting, slow) named only the shards heard from, and a
    // resume from it started the others at "now", skipping their changes since `from`.
    for (const s of all) {
      const start = from.shards.get(s) ?? from.rest;
      if (start !== 'now') events.positions.set(s, start.epoch, start.seq, formatVersion(start));
    }
    queuedCursor = events.positions.cursor();
    const nodeStreams = new NodeStreams({
      source,
      prefix,
      options,
      signal: stop.signal,
      agent: own,
      events,
      from,
      // what a read handed `events` waits for the consumer; reading pauses at HIGH_WATER
      taken: async (): Promise<void> => {
        notify();
        if (queue.length >= HIGH_WATER) await new Promise<void>((resolve) => (resumeReading = resolve));
      },
      fail,
    });
    for (const g of groupByLeader(map, all).values()) nodeStreams.start(g.leader, g.shards);
  };
  void streams().catch(fail);

  async function* yielded(): AsyncGenerator<WatchChange, void, undefined> {
    try {
      for (;;) {
        const next = queue.shift();
        if (next !== undefined) {
          if (queue.length < HIGH_WATER / 2 && resumeReading !== undefined) {
            const r = resumeReading;
            resumeReading = undefined;
            r();
          }
          yield next;
          continue;
        }
        if (failure !== undefined)
          throw failure instanceof Error ? failure : new Error('watch failed', { cause: failure });
        if (stopped()) {
          if (stoppedByClose()) throw closedError();
          return;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      stop.abort();
      await agentClosed;
    }
  }
  return yielded();
}

/** refused is a watch whose first next() rejects with `err` (a generator, as a watch is, that yields nothing). */
// eslint-disable-next-line @typescript-eslint/require-await, require-yield
async function* refused(err: unknown): AsyncGenerator<WatchChange, void, undefined> {
  throw err;
}

/**
 * checkFromShards refuses a `from` that names a shard the cluster does not have (INVALID_ARGUMENT):
 * a typo (`5:0.9` for `3:0.9`) or another cluster's cursor would otherwise start the shard it
 * meant from the rest of `from` (often "now", skipping its changes) without a word.
 */
function checkFromShards(from: FromSpec, shards: readonly number[]): void {
  const have = new Set(shards);
  const unknown = [...from.shards.keys()].filter((s) => !have.has(s));
  if (unknown.length === 0) return;
  throw new DistkvError(
    'INVALID_ARGUMENT',
    `from names shard${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}, which this cluster does not have (its shards: ${shards.join(', ')}); a cursor is SHARD:E.S items of this cluster's shard numbers`,
  );
}
