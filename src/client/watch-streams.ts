/**
 * NodeStreams: the streams of one client watch (watch.ts), one per node that leads some of its
 * shards (`GET /watch?shards=...`), each kept open until the watch stops. A stream that ends (the
 * node closed it, sent `resume`, refused, could not be reached, or went silent: watch-silence.ts)
 * is reported down (onStream) and opened again after a backoff with `from` = the positions the
 * watch holds, at the shards' leader in a freshly loaded map: a failover may have moved them, and
 * shards now led elsewhere get a stream of their own.
 */
import type { Agent } from 'undici';
import { DistkvError } from '../errors.js';
import type { ShardMap } from '../routing/shard-map.js';
import { formatVersion } from '../routing/version.js';
import { prefixQuery } from '../util/bytes.js';
import { ERROR_BODY_BYTES, readBody } from '../util/peer-answer.js';
import { BINARY_MEDIA_TYPE, LATEST_VERSION } from '../watch/watch-binary-format.js';
import type { FromSpec } from '../watch/watch-cursor.js';
import { sleep } from './exchange.js';
import { closedError } from './node-pools.js';
import { redirectTarget } from './redirects.js';
import type { WatchOptions, WatchSource, WatchStreamNotice } from './watch.js';
import { readEvents, readFrames, type WatchEvents } from './watch-decode.js';
import { silenceReason } from './watch-silence.js';
import { errorOf } from './wire-decode.js';

/**
 * ACCEPT asks for the binary stream's latest version; a server that writes only version 1 answers
 * that (its first byte says so) and one without the binary stream answers SSE (its Content-Type).
 */
const ACCEPT = `${BINARY_MEDIA_TYPE}; version=${String(LATEST_VERSION)}, text/event-stream`;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;
const MAX_REDIRECTS = 5;
/** ERROR_READ_MS bounds the read of a refusal's body (a JSON error is a few hundred bytes). */
const ERROR_READ_MS = 10000;

/** StreamsContext is what a watch's streams share. */
export interface StreamsContext {
  source: WatchSource;
  prefix: string | Uint8Array;
  options: WatchOptions;
  /** signal stops every stream (the watch ended). */
  signal: AbortSignal;
  /** agent is the watch's own dispatcher, with its silence bound (watch-silence.ts). */
  agent: Agent;
  /** events takes what the streams read, and holds each shard's position. */
  events: WatchEvents;
  /** from is where a shard without a position starts. */
  from: FromSpec;
  /** taken waits, after each piece a stream read, for the consumer to make room. */
  taken: () => Promise<void>;
  /** fail ends the watch with a stream's error the watch does not retry (a refused request). */
  fail: (err: unknown) => void;
}

/** NodeStreams runs a watch's streams (see the design block). */
export class NodeStreams {
  private readonly ctx: StreamsContext;

  constructor(ctx: StreamsContext) {
    this.ctx = ctx;
  }

  /** start keeps a stream of `shards` from `leader` open until the watch stops. */
  start(leader: string, shards: readonly number[]): void {
    void this.follow(leader, shards).catch(this.ctx.fail);
  }

  /** fromFor is the `from` of a stream of `shards`: each one's position, else where `from` starts it. */
  private fromFor(shards: readonly number[]): string {
    const { events, from } = this.ctx;
    return shards
      .map((s) => {
        const v = events.positions.get(s);
        if (v !== undefined) return `${String(s)}:${formatVersion(v)}`;
        const start = from.shards.get(s) ?? from.rest;
        return `${String(s)}:${start === 'now' ? 'now' : formatVersion(start)}`;
      })
      .join(',');
  }

  /** tell passes a notice to onStream; a hook that throws is the caller's bug, not a reason to stop the watch. */
  private tell(notice: WatchStreamNotice): void {
    try {
      this.ctx.options.onStream?.(notice);
    } catch {
      // ignored, as documented
    }
  }

  /**
   * follow keeps one node's stream of `group` open until the watch stops. After each stream
   * ends it reconnects to the shards' leader in a freshly loaded map.
   */
  private async follow(leader: string, group: readonly number[]): Promise<void> {
    const { source, prefix, options, signal, agent, events, taken } = this.ctx;
    const stopped = (): boolean => signal.aborted;
    let address = leader;
    let shards = group;
    let node = address;
    let backoff = RETRY_MIN_MS;
    let redirects = 0;
    // attempts failed since the stream was last open (0 while it is), and since when
    let failed = 0;
    let downSince = 0;
    while (!stopped()) {
      // The client was closed: no stream is opened (it reconnected for ever, a new request every
      // backoff, to nodes the caller had let go of).
      if (source.closed()) throw closedError();
      let reason: string;
      const q = new URLSearchParams({
        ...prefixQuery(prefix),
        shards: shards.join(','),
        from: this.fromFor(shards),
      });
      if (options.values === false) q.set('values', '0');
      try {
        const res = await agent.request({
          origin: `${source.scheme}://${node}`,
          path: `/watch?${q.toString()}`,
          method: 'GET',
          headers: { accept: ACCEPT },
          signal,
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
          this.tell({
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
        reason = silenceReason(err) ?? reasonOf(err);
      }
      if (stopped()) return;
      if (failed++ === 0) downSince = performance.now();
      this.tell({ state: 'down', node, shards, attempt: failed, reason, retryInMs: backoff });
      // The stream ended (resume, restart, failover, network, silence): reconnect where we are,
      // at the shards' leader as the cluster now names it.
      await sleep(backoff, signal).catch(() => undefined);
      backoff = Math.min(backoff * 2, RETRY_MAX_MS);
      if (stopped()) return;
      await source.reload().catch(() => undefined);
      const byLeader = groupByLeader(await source.topology(signal).catch(() => undefined), shards);
      const own = byLeader.get(address) ?? byLeader.values().next().value;
      if (own !== undefined) {
        address = own.leader;
        shards = own.shards;
        for (const g of byLeader.values()) if (g !== own) this.start(g.leader, g.shards);
      }
      node = address;
    }
  }
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
export function groupByLeader(
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
