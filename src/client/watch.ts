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
 * Each yielded event carries `cursor`: pass it as `from` later to resume after that event.
 * Reading is paced by the consumer: a stream stops reading while HIGH_WATER events wait.
 */
import { DistkvError } from '../errors.js';
import type { ShardMap } from '../routing/shard-map.js';
import { formatVersion } from '../routing/version.js';
import { BINARY_MEDIA_TYPE, LATEST_VERSION } from '../watch/watch-binary-format.js';
import { type FromSpec, parseFrom } from '../watch/watch-cursor.js';
import { prefixQuery } from '../util/bytes.js';
import { checkInput } from './key-bytes.js';
import { redirectTarget } from './redirects.js';
import { closedError } from './node-pools.js';
import { errorOf } from './wire-decode.js';
import { checkWatchOptions, endOnReturn } from './watch-call.js';
import { sleep } from './exchange.js';
import { readEvents, readFrames, type WatchChange, WatchEvents } from './watch-decode.js';
import { undici } from '../util/lazy-undici.js';
import { ERROR_BODY_BYTES, readBody } from '../util/peer-answer.js';

export type { WatchChange } from './watch-decode.js';

/** WatchOptions configure a watch. */
export interface WatchOptions {
  /** from: a cursor (or version) to start after; default: from now on. */
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

/**
 * ACCEPT asks for the binary stream's latest version; a server that writes only version 1 answers
 * that (its first byte says so) and one without the binary stream answers SSE (its Content-Type).
 */
const ACCEPT = `${BINARY_MEDIA_TYPE}; version=${String(LATEST_VERSION)}, text/event-stream`;
const HIGH_WATER = 1000;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;
const MAX_REDIRECTS = 5;
/** ERROR_READ_MS bounds the read of a refusal's body (a JSON error is a few hundred bytes). */
const ERROR_READ_MS = 10000;

/** watchPrefix runs a watch (see the design block); its iterator's return() ends it at once (watch-return.ts). */
export function watchPrefix(
  source: WatchSource,
  prefix: string | Uint8Array,
  options: WatchOptions = {},
): AsyncGenerator<WatchChange, void, undefined> {
  return endOnReturn((ended) => runWatch(source, prefix, options, ended));
}

async function* runWatch(
  source: WatchSource,
  prefix: string | Uint8Array,
  options: WatchOptions,
  ended: AbortSignal,
): AsyncGenerator<WatchChange, void, undefined> {
  checkInput(prefix, 'prefix');
  checkWatchOptions(options);
  const outer = options.signal;
  const stop = new AbortController();
  const onAbort = (): void => {
    stop.abort(outer?.reason);
  };
  outer?.addEventListener('abort', onAbort, { once: true });
  // A signal aborted already fires no 'abort' event: the watch waited for changes for ever.
  if (outer?.aborted === true) onAbort();
  const onEnded = (): void => {
    stop.abort();
  };
  ended.addEventListener('abort', onEnded, { once: true });
  // The client's close() ends the watch at once, its open streams too, with CLIENT_CLOSED: the
  // caller let go of the client, and a stream left open kept a connection it believed closed.
  // Only a close that came first ends it so: a watch its caller's signal (or return()) stopped
  // already ends without an error, as documented, when the caller then closes the client (the
  // usual shutdown, `ac.abort(); await client.close()`, made the loop throw CLIENT_CLOSED).
  const closeReason = closedError();
  const forgetClose = source.onClose(() => {
    stop.abort(closeReason);
  });
  const stoppedByClose = (): boolean => stop.signal.reason === closeReason;
  const from = parseFrom(options.from ?? '');
  const queue: WatchChange[] = [];
  let wake: (() => void) | undefined;
  let resumeReading: (() => void) | undefined;
  let failure: unknown;
  const agent = new (await undici()).Agent({
    ...(source.ca === undefined ? {} : { connect: { ca: source.ca } }),
    bodyTimeout: 0,
  });

  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  stop.signal.addEventListener('abort', notify, { once: true });
  const stopped = (): boolean => stop.signal.aborted;
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
  const { positions } = events;
  const fromFor = (shards: readonly number[]): string =>
    shards
      .map((s) => {
        const v = positions.get(s);
        if (v !== undefined) return `${String(s)}:${formatVersion(v)}`;
        const start = from.shards.get(s) ?? from.rest;
        return `${String(s)}:${start === 'now' ? 'now' : formatVersion(start)}`;
      })
      .join(',');

  /** taken: what a read handed `events` waits for the consumer; reading pauses at HIGH_WATER. */
  const taken = async (): Promise<void> => {
    notify();
    if (queue.length >= HIGH_WATER) await new Promise<void>((resolve) => (resumeReading = resolve));
  };

  /**
   * follow keeps one node's stream of `shards` open until the watch stops. After each stream
   * ends it reconnects to the shards' leader in a freshly loaded map: a failover may have moved
   * them (and a node that is gone would refuse it for ever); shards now led elsewhere get a
   * stream of their own.
   */
  const tell = (notice: WatchStreamNotice): void => {
    try {
      options.onStream?.(notice);
    } catch {
      // a hook that throws is the caller's bug, not a reason to stop the watch
    }
  };

  const follow = async (leader: string, group: readonly number[]): Promise<void> => {
    let address = leader;
    let shards = group;
    let node = address;
    let backoff = RETRY_MIN_MS;
    let redirects = 0;
    // attempts failed since the stream was last open (0 while it is), and since when
    let failed = 0;
    let downSince = 0;
    while (!stop.signal.aborted) {
      // The client was closed: no stream is opened (it reconnected for ever, a new request every
      // backoff, to nodes the caller had let go of).
      if (source.closed()) throw closedError();
      let reason: string;
      const q = new URLSearchParams({
        ...prefixQuery(prefix),
        shards: shards.join(','),
        from: fromFor(shards),
      });
      if (options.values === false) q.set('values', '0');
      try {
        const res = await agent.request({
          origin: `${source.scheme}://${node}`,
          path: `/watch?${q.toString()}`,
          method: 'GET',
          headers: { accept: ACCEPT },
          signal: stop.signal,
        });
        if (res.statusCode === 307 || res.statusCode === 308) {
          const location = res.headers.location;
          await res.body.dump();
          if (typeof location !== 'string' || ++redirects > MAX_REDIRECTS)
            throw new DistkvError(
              'SHARD_UNREACHABLE',
              `watch of shards ${shards.join(',')}: too many redirects`,
            );
          // Followed only to a node of the cluster under its scheme: the watched prefix goes nowhere
          // else. A Location that is not a URL is REDIRECT_REFUSED naming the node (redirectTarget):
          // the parse's bare TypeError was taken for a network failure and retried for ever.
          const what = `watch of shards ${shards.join(',')}`;
          const to = redirectTarget(location, `${source.scheme}://${node}`, what);
          await source.checkRedirect(to, node, what);
          node = to.host;
          void source.reload().catch(() => undefined);
          continue;
        }
        if (res.statusCode !== 200) {
          // A refusal's body is read up to ERROR_BODY_BYTES within ERROR_READ_MS: a node that sent
          // more (broken, or not a distkv node) had it all gathered, and one that never ended it held
          // the watch for good.
          const body = await readBody(
            res,
            ERROR_BODY_BYTES,
            ERROR_READ_MS,
            `the refusal of a watch by ${node}`,
            true,
          ).catch((err: unknown) => {
            throw Object.assign(new DistkvError('SHARD_UNREACHABLE', (err as Error).message), {
              retry: true,
            });
          });
          const err = errorOf(res.statusCode, body);
          // A node starting, draining or unreachable is waited for; a refused request is the caller's.
          if (res.statusCode < 500) throw err;
          throw Object.assign(err, { retry: true });
        }
        redirects = 0;
        backoff = RETRY_MIN_MS;
        if (failed > 0)
          tell({
            state: 'up',
            node,
            shards,
            attempt: failed,
            reason: '',
            downMs: Math.round(performance.now() - downSince),
          });
        failed = 0;
        const type = res.headers['content-type'];
        const resumed =
          typeof type === 'string' && type.startsWith(BINARY_MEDIA_TYPE)
            ? await readFrames(res.body, events, taken)
            : await readEvents(res.body, events, taken);
        reason =
          resumed === undefined
            ? 'the node closed the stream'
            : `the node ended the stream${resumed === '' ? '' : ` (${resumed})`}`;
      } catch (err) {
        if (stopped()) return;
        if (err instanceof DistkvError && (err as DistkvError & { retry?: boolean }).retry !== true)
          throw err;
        reason = reasonOf(err);
      }
      if (stopped()) return;
      if (failed++ === 0) downSince = performance.now();
      tell({ state: 'down', node, shards, attempt: failed, reason, retryInMs: backoff });
      // The stream ended (resume, restart, failover, network): reconnect where we are, at the
      // shards' leader as the cluster now names it.
      await sleep(backoff, stop.signal).catch(() => undefined);
      backoff = Math.min(backoff * 2, RETRY_MAX_MS);
      if (stopped()) return;
      await source.reload().catch(() => undefined);
      const byLeader = groupByLeader(await source.topology(stop.signal).catch(() => undefined), shards);
      const own = byLeader.get(address) ?? byLeader.values().next().value;
      if (own !== undefined) {
        address = own.leader;
        shards = own.shards;
        for (const g of byLeader.values()) if (g !== own) start(g.leader, g.shards);
      }
      node = address;
    }
  };

  const start = (address: string, shards: readonly number[]): void => {
    void follow(address, shards).catch((err: unknown) => {
      failure ??= err;
      notify();
    });
  };

  try {
    let map: ShardMap;
    try {
      map = await source.topology(stop.signal);
    } catch (err) {
      // Stopped while the map loaded: the iteration ends as documented, not with the signal's reason.
      if (!stop.signal.aborted) throw err;
      if (stoppedByClose()) throw closedError();
      return;
    }
    const all = map.shards.map((s) => s.idx);
    checkFromShards(from, all);
    // Every shard starts where `from` puts it, before its stream says so: a cursor yielded before
    // a shard's node answered (down, starting, slow) named only the shards heard from, and a
    // resume from it started the others at "now", skipping their changes since `from`.
    for (const s of all) {
      const start = from.shards.get(s) ?? from.rest;
      if (start !== 'now') positions.set(s, start.epoch, start.seq, formatVersion(start));
    }
    queuedCursor = positions.cursor();
    for (const g of groupByLeader(map, all).values()) start(g.leader, g.shards);
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
      if (stop.signal.aborted) {
        if (stoppedByClose()) throw closedError();
        return;
      }
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    forgetClose();
    outer?.removeEventListener('abort', onAbort);
    ended.removeEventListener('abort', onEnded);
    stop.abort();
    resumeReading?.();
    await agent.close().catch(() => undefined);
  }
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

/** reasonOf says why an attempt failed: a refusal's code and message, or a connection error's. */
function reasonOf(err: unknown): string {
  if (err instanceof DistkvError) return `${err.code}: ${err.message}`;
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return code === undefined || message.includes(code) ? message : `${message} (${code})`;
}

/**
 * groupByLeader groups `shards` by their leader in `map`, keyed by the leader's address (empty
 * without a map: the caller keeps what it had).
 */
function groupByLeader(
  map: ShardMap | undefined,
  shards: readonly number[],
): Map<string, { leader: string; shards: number[] }> {
  const groups = new Map<string, { leader: string; shards: number[] }>();
  if (map === undefined) return groups;
  for (const idx of shards) {
    const leader = map.shard(idx).address;
    const g = groups.get(leader) ?? { leader, shards: [] };
    g.shards.push(idx);
    groups.set(leader, g);
  }
  return groups;
}
