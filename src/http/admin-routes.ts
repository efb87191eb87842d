/**
 * Observability and admin routes: `/healthz`, `/cluster`, `/stats`, `/metrics` and the seed's
 * `/purge` (token-protected when a token is configured).
 */
import type { BehindReplica } from '../server/map-keeper.js';
import { PEER_HEADER } from '../server/cluster-doc-fetch.js';
import { coordinationDoc } from '../coordination/etcd-cluster-check.js';
import { DistkvError } from '../errors.js';
import { respAddressOf } from '../resp/resp-address.js';
import { replicaLag } from '../replication/lag.js';
import type { ReplayProgressOfNode } from '../server/start-progress.js';
import { formatRanges, type SlotRange } from '../routing/slot-dispute.js';
import { authError } from './auth.js';
import type { HttpContext } from './context.js';
import type { HttpRequest } from './http1-exchange.js';
import { parseQuery } from './request-parse.js';
import { sendError, sendJson, sendSeedText } from './respond.js';
import { answerLater, notServingError, route } from './route.js';
import type { Router } from './router.js';

/**
 * replicaView reports a hosted replica's position: acked seq, lag in seqs and ms, and follower state;
 * when its leader is out of reach, no lag (it is unknown) but the time since the last contact; when
 * its own disk stopped it, state `disk-failed` and `local_error`, the failure's code (lag.ts). A
 * replica whose store here lost its directory (storeError) is `disk-failed` with that code too,
 * whatever its follower says: it takes no record its leader sends (each is refused) and what it
 * holds is gone at the next start, while a leader without writes answered its pulls and it showed
 * `streaming`.
 */
export function replicaView(
  ctx: HttpContext,
  index: number,
  localLeaderSeq: number | undefined,
): Record<string, number | string> {
  const lag = replicaLag(ctx.pool.positions, index, localLeaderSeq, ctx.config.replication.pull_wait_ms);
  const storeError = ctx.pool.storeError(index);
  if (storeError !== undefined)
    return {
      acked_seq: lag.ackedSeq,
      ...(lag.lastContactMsAgo === undefined ? {} : { last_contact_ms_ago: lag.lastContactMsAgo }),
      state: 'disk-failed',
      local_error: storeError,
    };
  return {
    acked_seq: lag.ackedSeq,
    ...(lag.known
      ? { lag_seqs: lag.lagSeqs, ...(lag.lagMs === undefined ? {} : { lag_ms: lag.lagMs }) }
      : {}),
    ...(lag.lastContactMsAgo === undefined ? {} : { last_contact_ms_ago: lag.lastContactMsAgo }),
    state: lag.state,
    ...(!lag.known && lag.localError !== undefined ? { local_error: lag.localError } : {}),
  };
}

/**
 * behindView shows the replica a leader here that started behind is behind (behind-leaders.ts), if
 * any; `handing_over`: it gave up its leader key in etcd for that replica to take over by itself.
 */
function behindView(
  b: BehindReplica | undefined,
  handingOver: boolean,
): {
  behind?: { replica: string; replica_seq: number; leader_seq: number; handing_over?: true };
} {
  return b === undefined
    ? {}
    : {
        behind: {
          replica: b.replica,
          replica_seq: b.seq,
          leader_seq: b.leaderSeq,
          ...(handingOver ? { handing_over: true as const } : {}),
        },
      };
}

/**
 * clusterView is the topology document of GET /cluster: `version` fingerprints the config, `map` is
 * the live map (leaders, epochs, map version) that the shards' leader and replica addresses follow.
 * A replica in another process of a shard led here has `leader_view`: what the leader heard of its
 * pulls (replica-pulls.ts), so a replica whose own node does not answer is still known. A shard
 * whose leader in this node's config (`address`) is not the live map's has `config_leader`: the
 * edit or the failover that made them differ is not undone by the config (docs/failover.md).
 */
export function clusterView(ctx: HttpContext): unknown {
  const hosted = new Set(ctx.plan.listeners.map((l) => l.address));
  const live = ctx.liveMap.current;
  // A hosted store that could not open shows as failed, with the cause.
  const failed = (index: number | undefined): { state?: string; error?: string } => {
    const f = index === undefined ? undefined : ctx.pool.storeFailure(index);
    return f === undefined ? {} : { state: 'failed', error: f.message };
  };
  // A leader's open store that refuses every write (its directory lost: STORE_DIR_LOST), read from
  // the positions its worker publishes (no round trip): it showed as any other leader.
  const refusing = (index: number | undefined): { local_error?: string } => {
    const code =
      index === undefined || ctx.pool.storeFailure(index) !== undefined
        ? undefined
        : ctx.pool.storeError(index);
    return code === undefined ? {} : { local_error: code };
  };
  return {
    version: ctx.shardMap.hash,
    map_version: live.version,
    slots: 16384,
    node: ctx.listener.address,
    hosted_nodes: [...hosted],
    /** auth says whether this node requires server.token on its admin and internal requests (a peer with one adopts no map from a node without: peer-check.ts). */
    auth: ctx.config.server.token === '' ? 'none' : 'token',
    /** resp names each node's RESP (Redis protocol) address; empty when server.resp_port_offset = 0. */
    resp: Object.fromEntries(
      [...new Set(ctx.shardMap.shards.flatMap((s) => [s.address, ...s.replicas]))].flatMap((a) => {
        const r = respAddressOf(a, ctx.config.server.resp_port_offset);
        return r === undefined ? [] : [[a, r]];
      }),
    ),
    /** limits are this node's bounds on a key and a value (a restore checks a backup against them before writing). */
    limits: {
      max_key_bytes: ctx.config.server.max_key_bytes,
      max_value_bytes: ctx.config.server.max_value_bytes,
    },
    shards: ctx.liveMap.shards().map((s) => {
      const leader = ctx.plan.stores.find((st) => st.shard.idx === s.idx && st.role === 'leader');
      const leaderSeq = leader === undefined ? undefined : ctx.pool.lastSeq(leader.index);
      const configured = ctx.config.shards.find((c) => c.idx === s.idx)?.address;
      return {
        idx: s.idx,
        name: s.name,
        slots: [s.slots.first, s.slots.last],
        epoch: live.shards.find((l) => l.idx === s.idx)?.epoch ?? 0,
        ...(configured === undefined || configured === s.address ? {} : { config_leader: configured }),
        leader: {
          address: s.address,
          local: hosted.has(s.address),
          ...(leader === undefined
            ? {}
            : { last_seq: leaderSeq, last_write_seq: ctx.pool.lastWriteSeq(leader.index) }),
          // Only the leader's own node knows whether it holds the shard's writes: elsewhere
          // writesFenced also counts "this node holds no etcd leader key", true at every
          // member that does not lead.
          ...(hosted.has(s.address) && ctx.liveMap.writesFenced(s.idx) ? { writes_held: true } : {}),
          ...behindView(ctx.liveMap.behindOf(s.idx), ctx.liveMap.handsOver(s.idx)),
          ...(hosted.has(s.address) && ctx.liveMap.leaseless(s.idx) ? { no_lease: true } : {}),
          ...failed(leader?.index),
          ...refusing(leader?.index),
        },
        replicas: s.replicas.map((address) => {
          const st = ctx.plan.stores.find(
            (x) => x.shard.idx === s.idx && x.role === 'replica' && x.node === address,
          );
          if (st === undefined)
            return {
              address,
              local: false,
              // What the leader here heard of its pulls: the replica's own node may not answer.
              ...(leader !== undefined && hosted.has(s.address)
                ? {
                    leader_view: ctx.replicaPulls.view(
                      s.idx,
                      address,
                      leaderSeq,
                      ctx.config.replication.pull_wait_ms,
                    ),
                  }
                : {}),
            };
          return { address, local: true, ...replicaView(ctx, st.index, leaderSeq), ...failed(st.index) };
        }),
      };
    }),
    map: live,
    peers: ctx.peers.view(),
    ...(ctx.state.phase === 'starting' ? { starting: replayView(ctx.pool.replayProgress()) } : {}),
    /** coordination is present when the nodes run [coordination] (etcd): a replica takes a shard whose leader is gone over by itself. */
    ...(ctx.config.coordination.etcd.length > 0
      ? {
          coordination: coordinationDoc(
            ctx.config.coordination.lease_ttl_ms,
            ctx.config.coordination.etcd,
            ctx.etcdCluster?.(),
          ),
        }
      : {}),
  };
}

/**
 * replayView is how far the node's workers have replayed their commit logs (src/server/start-progress.ts),
 * in RESP INFO's terms: /cluster's `starting` while the node starts (`replay_eta_seconds` only
 * when measured), /stats's `node.replay` once it serves (what its start replayed, in `replay_ms`).
 */
function replayView(p: ReplayProgressOfNode): Record<string, number> {
  return {
    replay_total_bytes: p.totalBytes,
    replay_loaded_bytes: p.loadedBytes,
    replay_loaded_perc: Math.round(p.percent * 100) / 100,
    replay_ms: p.elapsedMs,
    ...(p.etaSeconds === undefined ? {} : { replay_eta_seconds: p.etaSeconds }),
    workers: p.workers,
    workers_replaying: p.reported - p.done,
    workers_replayed: p.done,
  };
}

async function statsView(ctx: HttpContext): Promise<unknown> {
  const results = await ctx.pool.callAll({ type: 'stats' });
  const byIndex = new Map<number, Record<string, unknown>>();
  for (const r of results)
    if (r.type === 'stats-result') for (const s of r.stores) byIndex.set(s.index, s.stats);
  const mem = process.memoryUsage();
  return {
    node: {
      hosted_nodes: ctx.plan.listeners.map((l) => l.address),
      workers: ctx.pool.size,
      uptime_s: Math.round((Date.now() - ctx.startedAt) / 1000),
      rss_bytes: mem.rss,
      heap_used_bytes: mem.heapUsed,
      in_flight: ctx.pool.inFlight,
      phase: ctx.state.phase,
      replay: replayView(ctx.pool.replayProgress()),
    },
    stores: ctx.plan.stores.map((st) => ({
      shard: st.shard.idx,
      name: st.shard.name,
      role: st.role,
      node: st.node,
      worker: st.worker,
      dir: st.dir,
      ...(byIndex.get(st.index) ?? { error: 'unavailable' }),
      ...disputedOf(ctx, st.shard),
    })),
  };
}

/**
 * disputedOf is `{ disputed_slots }`, the slots of a store (`slots`) that a peer's config gives
 * another leader (slot-gate.ts), or nothing when none is: while it is there the store's counts
 * may miss what that leader took. /stats is not refused for it (tools poll it), only marked.
 */
function disputedOf(ctx: HttpContext, slots: SlotRange): { disputed_slots?: string } {
  if (!ctx.slotGate.some) return {};
  const disputed = ctx.slotGate.disputedReads([slots]);
  return disputed.length === 0 ? {} : { disputed_slots: formatRanges(disputed) };
}

/** registerAdminRoutes adds the observability and admin routes. */
export function registerAdminRoutes(app: Router, ctx: HttpContext): void {
  app.any(
    '/healthz',
    route(
      ctx,
      'healthz',
      (res) => {
        const phase = ctx.state.phase;
        if (phase === 'serving') sendSeedText(res, 200, 'ok');
        else sendSeedText(res, 503, phase, notServingError(phase).code);
      },
      { always: true },
    ),
  );

  app.get(
    '/cluster',
    route(
      ctx,
      'cluster',
      (res, req) => {
        // A peer that asks is up, whatever this node's last check of it found (PeerCheck.heardFrom).
        ctx.peers.heardFrom(req.getHeader(PEER_HEADER));
        sendJson(res, clusterView(ctx), 200, wantsPretty(req));
      },
      { always: true },
    ),
  );

  app.get(
    '/stats',
    route(ctx, 'stats', (res, req) => {
      const pretty = wantsPretty(req);
      answerLater(res, statsView(ctx), (r, body) => {
        sendJson(r, body, 200, pretty);
      });
    }),
  );

  app.get(
    '/metrics',
    route(
      ctx,
      'metrics',
      (res) => {
        answerLater(res, ctx.registry.metrics(), (r, text) => {
          r.writeHeader('Content-Type', ctx.registry.contentType).end(text);
        });
      },
      { always: true },
    ),
  );

  app.any(
    '/purge',
    route(
      ctx,
      'seed_purge',
      (res, req) => {
        const denied = authError(req, ctx.config.server.token);
        if (denied) {
          sendSeedText(res, 401, denied.message, denied.code);
          return;
        }
        const phase = ctx.state.phase;
        if (phase !== 'serving') throw notServingError(phase);
        answerLater(res, ctx.pool.callAll({ type: 'purge' }), (r, results) => {
          const deleted = results.reduce((n, x) => n + (x.type === 'purge-result' ? x.deleted : 0), 0);
          ctx.log.info({ deleted }, 'purge removed keys this node no longer owns');
          sendSeedText(r, 200, 'Extra keys deleted successfully');
        });
      },
      { always: true },
    ),
    { write: true },
  );
}

/** wantsPretty reports `?pretty=1` (indented JSON for people). */
function wantsPretty(req: HttpRequest): boolean {
  const q = req.getQuery();
  return q !== '' && parseQuery(q).params.get('pretty') === '1';
}

/**
 * registerFallbackRoutes answers 405 with `Allow` on every known path with a wrong method (the
 * router lists the methods each path has: no route is left out) and 404 elsewhere. Registered last.
 */
export function registerFallbackRoutes(app: Router, ctx: HttpContext): void {
  app.closeMethods((allow) => ({
    handler: route(
      ctx,
      'other',
      (res, req) => {
        const method = req.getMethod();
        sendError(
          res,
          new DistkvError(
            'METHOD_NOT_ALLOWED',
            `${method.slice(0, 20)} is not allowed here; allowed: ${allow}`,
          ),
          { headers: { Allow: allow } },
        );
      },
      { always: true },
    ),
    write: false,
  }));
  app.any(
    '/*',
    route(
      ctx,
      'other',
      (res, req) => {
        sendError(
          res,
          new DistkvError(
            'ROUTE_NOT_FOUND',
            `no route for ${req.getMethod().slice(0, 20)} ${req.getUrl().slice(0, 200)}; see GET /cluster and the README for the API`,
          ),
        );
      },
      { always: true },
    ),
  );
}
