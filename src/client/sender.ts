/**
 * Sender: one client request to a node, seen through to its answer (docs/api.md). A 307/308 means
 * the client's topology is stale: it follows the Location to its node, sending the request's own
 * path again (re-sending a buffered body, at most MAX_REDIRECTS times in a row; a loop is started
 * over, after a short wait and a look for a newer map, up to LOOP_WAIT_MS) and reloads `/cluster`,
 * in the background unless the redirecting node names
 * another config hash, in which case it reloads first and refuses to go on (CONFIG_MISMATCH) if the
 * nodes disagree. A redirect is followed only to a node of the cluster under the client's scheme
 * (redirects.ts checkRedirect): the token and the body are never sent elsewhere, nor from https to http.
 *
 * Retries are at most once for writes, as etcd's client does for its mutations: a read is retried
 * on any connection error, with capped exponential backoff, then fails as SHARD_UNREACHABLE naming
 * the shard; a write only when the request provably never reached the node (the connection was
 * never made: util/never-sent.ts). A write whose connection failed or timed out after it was sent
 * rejects with OutcomeUnknownError at once: sent again, it could land after another client's later
 * write and undo it, or apply twice around a failover; so does a write a node relayed or forwarded
 * that its owner did not answer (503 OUTCOME_UNKNOWN; a relay that never reached the owner is
 * SHARD_UNREACHABLE, which client.ts routes once more). With the same backoff and bound, a read
 * refused with 503 UNAVAILABLE, and any request refused with 503 DRAINING, STARTING,
 * SLOTS_DISPUTED or FORWARD_EXPIRED (not executed: NOT_EXECUTED), is sent again, then rejects with that error; each retry follows the shard's leader
 * if a newer map moves it. DRAINING is waited out as a leader switch is (below): a stopping leader
 * with etcd hands its shards over for up to 2 s before a replica takes them. An answer whose `X-Distkv-Map` version is above the client's makes it
 * look for that map at every node (topology.ts, `learnOf`); a request held by a leader switch
 * (503 SWITCHING_LEADER, not executed: writes too) is sent again after a short wait, up to
 * the client's `switchWaitMs` (15 s by default), following the shard's leader if a newer map moves it.
 * A request refused with 503 STARTING (the node's stores are still opening: a restart after a crash
 * with many keys takes seconds) is sent again the same way, up to `startingWaitMs` (60 s): a restart is
 * not a failure to report after three quick retries. A request whose connection is refused
 * (nothing listens at the node: the gap of a restart, before it refuses with STARTING) is sent
 * again the same way, up to the client's `refusedWaitMs` (0 by default; a refused connection
 * carried nothing, so writes too), then retried as any connection error. Each request that
 * starts such a wait tells the client's `onWait` hook once (the CLI says so on stderr).
 * A key read meant for the shard's leader (the client was not made with `replicaReads`) that a
 * replica answered (X-Distkv-Lag: the node no longer leads the shard, after a failover the client's
 * map predates) is not taken: it is sent again where a newer map names the leader, as a switch is
 * waited out, and refused as SWITCHING_LEADER past `switchWaitMs`.
 * A scan, which any leader serves (it forwards the other shards' parts to their leaders), names
 * no shard but an `elsewhere` hook: wherever a key request follows its shard's leader (a retry after
 * a connection error, a wait for a refused connection or a switch), it goes to another leader of
 * the newest map instead, not to the same silent node again; and a node's 503 SHARD_UNREACHABLE
 * (one of its parts' owners did not answer: right after a failover, until the nodes' maps agree)
 * is waited out as a switch is, up to `switchWaitMs`, a scan being a read.
 * Any other status from 400 up (but a 404 of a key read) rejects as the server's catalogue error.
 */
import { DistkvError, OutcomeUnknownError } from '../errors.js';
import { neverSent } from '../util/never-sent.js';
import type { ShardInfo } from '../routing/shard-map.js';
import { abortable, connectFailure, refused, type Reply, sleep } from './exchange.js';
import { isClosedError, type NodePools } from './node-pools.js';
import { checkRedirect, redirectTarget } from './redirects.js';
import type { ClusterTopology } from './topology.js';
import type { ClientStats, WaitNotice } from './types.js';
import { errorOf } from './wire-decode.js';

const MAX_REDIRECTS = 5;
/** SWITCH_WAIT_MS is the default switchWaitMs: how long a request held by a leader switch is retried. */
export const SWITCH_WAIT_MS = 15000;
const SWITCH_RETRY_MS = 100;
/** STARTING_WAIT_MS is the default startingWaitMs: how long a request refused by a node that is starting (503 STARTING) is retried. */
export const STARTING_WAIT_MS = 60000;
const STARTING_RETRY_MS = 200;
/** REFUSED_RETRY_MS spaces the attempts at a node that refuses connections (up to the client's refusedWaitMs). */
export const REFUSED_RETRY_MS = 200;
/** NEWEST_LOOK_MS is how long a write held for a leader switch waits before asking every node for a newer map. */
const NEWEST_LOOK_MS = 1000;
/**
 * LOOP_WAIT_MS bounds how long a request redirected in a loop (nodes that disagree about its
 * owner) is started over: nodes poll each other's map every 2 s (docs/failover.md), so the
 * disagreement of a failover lasts about that long; one that outlasts two polls is not transient.
 */
const LOOP_WAIT_MS = 5000;

/**
 * SendPolicy is how a Sender retries and waits: `retries` is how many times a request is retried
 * when that is safe (see above); `refusedWaitMs`, `switchWaitMs` and `startingWaitMs` how long a node
 * that refuses connections, a leader switch and a starting node are waited for; `onWait` is told
 * when a request starts one of those waits; `replicaReads` lets a key read be answered by a replica
 * (otherwise only its leader's answer is taken).
 */
export interface SendPolicy {
  retries: number;
  refusedWaitMs: number;
  switchWaitMs: number;
  startingWaitMs: number;
  onWait?: ((notice: WaitNotice) => void) | undefined;
  replicaReads: boolean;
}

/**
 * SendOptions are what a request carries besides its method, node and path, and how it may be
 * retried. Only `read` is always given.
 */
export interface SendOptions {
  /** body is the request's body (none by default); a buffered one is sent again on a redirect. */
  body?: Uint8Array | string | undefined;
  /**
   * read says the request changes nothing: it is retried on any connection error (a write only
   * when it never reached the node), and a 503 UNAVAILABLE is sent again.
   */
  read: boolean;
  /** signal aborts the request, and any wait or retry of it. */
  signal?: AbortSignal | undefined;
  /** shard is the shard the request is for: a retry follows its leader when a newer map moves it. */
  shard?: ShardInfo | undefined;
  /** conditions are the request's condition headers (If-Match and the like; none by default). */
  conditions?: Record<string, string> | undefined;
  /** waitMs is how long the node may hold the request before answering (a `w` write's wait; 0 by default). */
  waitMs?: number | undefined;
  /** elsewhere (a scan's, which names no shard) names another node to send it to, from the node ("host:port") it left. */
  elsewhere?: ((from: string) => string) | undefined;
  /**
   * refusedWaitMs is how long a node refusing connections is tried again (the policy's by default;
   * 0: a caller with other nodes to ask passes it over at once, node-docs.ts).
   */
  refusedWaitMs?: number | undefined;
}

/** Sender sends the client's requests over its pools, keeping its topology current. */
export class Sender {
  private readonly pools: NodePools;
  private readonly topology: ClusterTopology;
  private readonly stats: ClientStats;
  private readonly policy: SendPolicy;

  /** `stats` counts requests, redirects and retries; `policy` says how they are retried and waited for. */
  constructor(pools: NodePools, topology: ClusterTopology, stats: ClientStats, policy: SendPolicy) {
    this.pools = pools;
    this.topology = topology;
    this.stats = stats;
    this.policy = policy;
  }

  /** told calls the onWait hook, which must not break the request it reports on. */
  private told(notice: WaitNotice): void {
    try {
      this.policy.onWait?.(notice);
    } catch {
      // a hook that throws is the caller's bug, not a reason to fail the request
    }
  }

  /**
   * send performs `method` `path` at `node` ("host:port"), following redirects and retrying
   * connection errors as `o` allows (SendOptions).
   */
  async send(method: string, node: string, path: string, o: SendOptions): Promise<Reply> {
    const { body, read, signal, shard, elsewhere } = o;
    const conditions = o.conditions ?? {};
    const waitMs = o.waitMs ?? 0;
    const refusedWaitMs = o.refusedWaitMs ?? this.policy.refusedWaitMs;
    const topology = this.topology;
    let origin = `${topology.scheme}://${node}`;
    const { retries, switchWaitMs } = this.policy;
    const switchDeadline = performance.now() + switchWaitMs;
    let nextLook = performance.now() + NEWEST_LOOK_MS;
    const loopDeadline = performance.now() + LOOP_WAIT_MS;
    const startingDeadline = performance.now() + this.policy.startingWaitMs;
    // when the call began and how many exchanges it made, named when it fails on a timeout
    const began = performance.now();
    let exchanges = 0;
    const refusedDeadline = performance.now() + refusedWaitMs;
    // what this request has told onWait it waits for (each once)
    const waitedFor = new Set<string>();
    const waiting = (code: WaitNotice['code'], waitMs: number): void => {
      if (waitedFor.has(code)) return;
      waitedFor.add(code);
      this.told({
        code,
        node: new URL(origin).host,
        ...(shard === undefined ? {} : { shard: shard.idx }),
        waitMs,
      });
    };
    // followLeader looks for a newer map and, when it names another leader of the shard, sends
    // there; a scan (`elsewhere`) goes to another leader of that map.
    const followLeader = async (): Promise<void> => {
      if (shard === undefined && elsewhere === undefined) return;
      await abortable(topology.loadNewest(), signal).catch(() => undefined);
      const now =
        shard === undefined ? elsewhere?.(new URL(origin).host) : topology.map?.shard(shard.idx).address;
      if (now !== undefined && `${topology.scheme}://${now}` !== origin) {
        origin = `${topology.scheme}://${now}`;
      }
    };
    // waitOut is one wait of a bounded wait for `code` (until `deadline`): onWait told once, one
    // retry counted, `retryMs` slept, and the map looked at now and then (and first, with
    // `lookFirst`) in case the shard moved meanwhile.
    const waitOut = async (
      code: WaitNotice['code'],
      deadline: number,
      retryMs: number,
      lookFirst: boolean,
    ): Promise<void> => {
      const first = !waitedFor.has(code);
      waiting(code, Math.max(0, Math.round(deadline - performance.now())));
      this.stats.retries++;
      await sleep(retryMs, signal);
      if ((lookFirst && first) || performance.now() >= nextLook) {
        nextLook = performance.now() + NEWEST_LOOK_MS;
        await followLeader();
      }
    };
    let attempt = 0;
    // backOff waits before the next attempt (capped exponential) and sends it where the cluster
    // names the shard's leader now.
    const backOff = async (): Promise<void> => {
      this.stats.retries++;
      await sleep(Math.min(1000, 50 * 2 ** attempt), signal);
      attempt++;
      await followLeader();
    };
    for (let redirects = 0; ;) {
      signal?.throwIfAborted();
      this.stats.requests++;
      let res: Reply;
      try {
        exchanges++;
        res = await this.pools.exchange(origin, method, path, body, conditions, signal, waitMs);
      } catch (err) {
        // Closed meanwhile (node-pools.ts): nothing was sent, and nothing may be sent again.
        if (signal?.aborted === true || isClosedError(err)) throw err;
        // Nothing listens at the node (a restart's gap): waited for as STARTING is, bounded, and
        // the map looked at now and then in case a failover moved the shard meanwhile.
        if (refused(err) && performance.now() < refusedDeadline) {
          await waitOut('REFUSED', refusedDeadline, REFUSED_RETRY_MS, true);
          continue;
        }
        const unsent = neverSent(err);
        if ((read || unsent) && attempt < retries) {
          // A node that does not answer may have lost the shard meanwhile (a `w` write waits there
          // its timeout on top of the client's): the retry goes to the leader the cluster names now.
          await backOff();
          continue;
        }
        // Not sent again, but the caller's next request must not go to the same silent node: look
        // for a newer map first (a failover may name another leader by now), as a retry would.
        await abortable(topology.loadNewest(), signal).catch(() => undefined);
        const what =
          shard === undefined ? `node ${origin}` : `shard ${shard.idx} (${shard.name}) at ${origin}`;
        const why = `${what} is unreachable: ${connectFailure(err, {
          timeoutMs: this.pools.timeoutMs,
          describe: this.pools.describeTimeout,
          waitMs,
          attempts: exchanges,
          elapsedMs: performance.now() - began,
        })}`;
        if (read || unsent) throw new DistkvError('SHARD_UNREACHABLE', why, { cause: err });
        throw new OutcomeUnknownError(`${why}; the ${method} may have been applied`, { cause: err });
      }
      if (res.map !== undefined) topology.learnOf(res.map);
      // A key read sent to the shard's leader that a replica answered (X-Distkv-Lag): the node no
      // longer leads the shard (a failover this client's map predates) and served its replica,
      // which may lack writes the new leader acknowledged. Not an answer: read where a newer map
      // names the leader, bounded as a switch's wait, then refused rather than answered stale.
      if (read && shard !== undefined && !this.policy.replicaReads && res.lag !== undefined) {
        if (performance.now() >= switchDeadline)
          throw new DistkvError(
            'SWITCHING_LEADER',
            `shard ${shard.idx} (${shard.name}): ${origin} answers reads from its replica of the shard (it no longer leads it) and no node named another leader within ${switchWaitMs} ms`,
          );
        this.stats.retries++;
        const was = origin;
        nextLook = performance.now() + NEWEST_LOOK_MS;
        await followLeader();
        if (origin === was) await sleep(SWITCH_RETRY_MS, signal);
        continue;
      }
      // SWITCHING_LEADER is refused before the store issues anything (src/worker/store-writes.ts,
      // checkWritable): not executed, so even a conditional write is safe to send again.
      const refusal = res.status === 503 ? errorOf(503, res.body).code : undefined;
      // A node relayed or forwarded this write and its owner did not answer (proxy.ts): it may have
      // been applied, so it is not sent again, here or to a new leader (client.ts), as when this
      // client's own connection is lost after sending. The map is looked at first, as above.
      if (refusal === 'OUTCOME_UNKNOWN') {
        await abortable(topology.loadNewest(), signal).catch(() => undefined);
        throw new OutcomeUnknownError(errorOf(503, res.body).message);
      }
      // A scan's node could not reach one of its parts' owners: a failover's old leader, until the
      // nodes' maps agree. A read: asked again, at another leader of the newest map.
      const unreached = refusal === 'SHARD_UNREACHABLE' && elsewhere !== undefined;
      if ((refusal === 'SWITCHING_LEADER' || unreached) && performance.now() < switchDeadline) {
        // The switch may be over elsewhere while this node cannot learn it (cut off from the
        // coordinator): look for a newer map now and then, and follow the shard's new leader (a
        // scan's node that reached no owner is left at once: another leader may know the map).
        await waitOut('SWITCHING_LEADER', switchDeadline, SWITCH_RETRY_MS, unreached);
        continue;
      }
      // DRAINING (the node is stopping; route.ts refuses before any handler runs: nothing ran) is
      // waited out as a switch is: with etcd a stopping leader holds its shards' writes until a
      // replica in another process has them (up to 2 s, drain-handover.ts), then gives its lease
      // up and a replica takes over, a campaign later. Three quick retries (350 ms) gave up inside
      // that handover, and a rolling restart's clients saw DRAINING errors. Without etcd the node
      // stops listening within 3 s, and its refused connections end the wait as any do.
      if (refusal === 'DRAINING' && performance.now() < switchDeadline) {
        await waitOut('DRAINING', switchDeadline, SWITCH_RETRY_MS, true);
        continue;
      }
      // STARTING (route.ts refuses before any handler runs: nothing ran) is waited for, bounded:
      // the node's stores open after a restart, seconds with many keys to replay. The map is looked
      // at first and now and then, as for a switch, in case a failover moved the shard meanwhile.
      if (refusal === 'STARTING' && performance.now() < startingDeadline) {
        await waitOut('STARTING', startingDeadline, STARTING_RETRY_MS, true);
        continue;
      }
      // DRAINING and STARTING (the node is stopping or starting: route.ts refuses before any
      // handler runs) were not executed, so any call may be sent again; UNAVAILABLE may come
      // after a worker died with the request in flight (worker-pool.ts), so only a read is.
      // Either way the node is not serving now: look for a newer map that names another leader
      // of the shard.
      if (res.status === 503 && attempt < retries && mayResend(res.body, read)) {
        await backOff();
        continue;
      }
      if (res.status === 307 || res.status === 308) {
        const location = res.location;
        // A loop means the nodes disagree about who owns the key (not a bug of either), as they
        // may for a moment during a failover; one that lasts LOOP_WAIT_MS means the owner cannot
        // be reached, as a watch reports it (watch.ts), and a key request then routes once more
        // after a reload (client.ts).
        if (location === undefined)
          throw new DistkvError(
            'SHARD_UNREACHABLE',
            `${origin} redirected ${method} ${path} without a Location`,
          );
        if (++redirects > MAX_REDIRECTS && performance.now() >= loopDeadline)
          throw new DistkvError(
            'SHARD_UNREACHABLE',
            `${method} ${path} was redirected more than ${MAX_REDIRECTS} times (last by ${origin} to ${location}) for ${LOOP_WAIT_MS} ms: the nodes disagree about who owns it`,
          );
        if (redirects > MAX_REDIRECTS) {
          // During a failover a node learns the new map up to a peer poll after another
          // (docs/failover.md): wait, look for a newer map and start over at the leader it names.
          this.stats.retries++;
          await sleep(SWITCH_RETRY_MS, signal);
          origin = `${topology.scheme}://${node}`;
          redirects = 0;
          await followLeader();
          continue;
        }
        this.stats.redirects++;
        const theirs = res.config;
        if (theirs !== undefined && theirs !== topology.version) {
          // Our topology is stale, or the nodes disagree: reload, and refuse to go on if they disagree.
          await abortable(topology.reload(), signal);
          if (theirs !== topology.version)
            throw new DistkvError(
              'CONFIG_MISMATCH',
              `${origin} routes with config ${theirs} but ${topology.urls.join(', ')} serves ${String(topology.version)}: give every node the same sharding.toml`,
            );
        } else void topology.reload().catch(() => undefined);
        // Only the node is taken from the Location (a relative one, not what a node sends but valid
        // HTTP, is resolved against this node): a node's redirect repeats the request's own path
        // and query (src/http/redirect.ts), which is sent again as the client encoded it. Read back
        // through a URL parser, it could name another key: WHATWG's turns `\` into `/` and drops
        // dot segments, so the key `.` would become `/kv/` and `a/../b` would become `b`.
        const u = redirectTarget(location, origin, `${method} ${path}`);
        await checkRedirect(topology, u, origin, `${method} ${path}`, signal);
        origin = u.origin;
        continue;
      }
      if (res.status >= 400 && !(res.status === 404 && method === 'GET' && path.startsWith('/kv/')))
        throw errorOf(res.status, res.body);
      return res;
    }
  }
}

/**
 * NOT_EXECUTED are the 503s a node answers before running anything, so any call may be sent
 * again: DRAINING and STARTING (route.ts), SLOTS_DISPUTED (a peer's config gives the key's slot
 * another leader: refused before routing, until the nodes agree, src/server/slot-gate.ts) and
 * FORWARD_EXPIRED (a forwarded write that reached its owner past its deadline, not applied).
 */
const NOT_EXECUTED = new Set(['DRAINING', 'STARTING', 'SLOTS_DISPUTED', 'FORWARD_EXPIRED']);

/** mayResend reports whether a 503 with `body` left its request unexecuted, or a `read` makes that moot. */
function mayResend(body: Buffer, read: boolean): boolean {
  const code = errorOf(503, body).code;
  return NOT_EXECUTED.has(code) || (read && code === 'UNAVAILABLE');
}
