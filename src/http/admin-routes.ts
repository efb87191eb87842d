/**
 * Observability and admin routes: `/healthz`, `/cluster`, `/stats`, `/metrics` and the seed's
 * `/purge` (token-protected when a token is configured).
 */
import { DistkvError, toDistkvError } from '../errors.js';
import { respAddressOf } from '../resp/resp-address.js';
import { replicaLag } from '../replication/lag.js';
import { authError } from './auth.js';
import type { HttpContext } from './context.js';
import { type Route, secondsSince } from './http-metrics.js';
import { refuseIfNotServing } from './kv-routes.js';
import { sendError, sendJson, sendSeedText } from './respond.js';
import type { HttpResponse, TemplatedApp } from './uws.js';

/**
 * replicaView reports a hosted replica's position: acked seq, lag in seqs and ms, and follower state;
 * when its leader is out of reach, no lag (it is unknown) but the time since the last contact.
 */
export function replicaView(
  ctx: HttpContext,
  index: number,
  localLeaderSeq: number | undefined,
): Record<string, number | string> {
  const lag = replicaLag(ctx.pool.positions, index, localLeaderSeq, ctx.config.replication.pull_wait_ms);
  return {
    acked_seq: lag.ackedSeq,
    ...(lag.known
      ? { lag_seqs: lag.lagSeqs, ...(lag.lagMs === undefined ? {} : { lag_ms: lag.lagMs }) }
      : {}),
    ...(lag.lastContactMsAgo === undefined ? {} : { last_contact_ms_ago: lag.lastContactMsAgo }),
    state: lag.state,
  };
}

/**
 * clusterView is the topology document of GET /cluster: `version` fingerprints the config, `map` is
 * the live map (leaders, epochs, map version) that the shards' leader and replica addresses follow.
 */
export function clusterView(ctx: HttpContext): unknown {
  const hosted = new Set(ctx.plan.listeners.map((l) => l.address));
  const live = ctx.liveMap.current;
  // A hosted store that could not open shows as failed, with the cause.
  const failed = (index: number | undefined): { state?: string; error?: string } => {
    const f = index === undefined ? undefined : ctx.pool.storeFailure(index);
    return f === undefined ? {} : { state: 'failed', error: f.message };
  };
  return {
    version: ctx.shardMap.hash,
    map_version: live.version,
    slots: 16384,
    node: ctx.listener.address,
    hosted_nodes: [...hosted],
    /** resp names each node's RESP (Redis protocol) address; empty when server.resp_port_offset = 0. */
    resp: Object.fromEntries(
      [...new Set(ctx.shardMap.shards.flatMap((s) => [s.address, ...s.replicas]))].flatMap((a) => {
        const r = respAddressOf(a, ctx.config.server.resp_port_offset);
        return r === undefined ? [] : [[a, r]];
      }),
    ),
    shards: ctx.liveMap.shards().map((s) => {
      const leader = ctx.plan.stores.find((st) => st.shard.idx === s.idx && st.role === 'leader');
      const leaderSeq = leader === undefined ? undefined : ctx.pool.lastSeq(leader.index);
      return {
        idx: s.idx,
        name: s.name,
        slots: [s.slots.first, s.slots.last],
        epoch: live.shards.find((l) => l.idx === s.idx)?.epoch ?? 0,
        leader: {
          address: s.address,
          local: hosted.has(s.address),
          ...(leaderSeq === undefined ? {} : { last_seq: leaderSeq }),
          ...(ctx.liveMap.writesFenced(s.idx) ? { writes_held: true } : {}),
          ...failed(leader?.index),
        },
        replicas: s.replicas.map((address) => {
          const st = ctx.plan.stores.find(
            (x) => x.shard.idx === s.idx && x.role === 'replica' && x.node === address,
          );
          if (st === undefined) return { address, local: false };
          return { address, local: true, ...replicaView(ctx, st.index, leaderSeq), ...failed(st.index) };
        }),
      };
    }),
    map: live,
    peers: ctx.peers.view(),
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
    },
    stores: ctx.plan.stores.map((st) => ({
      shard: st.shard.idx,
      name: st.shard.name,
      role: st.role,
      node: st.node,
      worker: st.worker,
      dir: st.dir,
      ...(byIndex.get(st.index) ?? { error: 'unavailable' }),
    })),
  };
}

function answerAsync(
  res: HttpResponse,
  ctx: HttpContext,
  route: Route,
  method: string,
  start: number,
  work: Promise<(res: HttpResponse) => number>,
): void {
  const state = { aborted: false };
  res.onAborted(() => {
    state.aborted = true;
  });
  work.then(
    (write) => {
      if (state.aborted) return;
      let status = 200;
      res.cork(() => {
        status = write(res);
      });
      ctx.metrics.observeRequest(route, method, status, ctx.listener.address, '', secondsSince(start));
    },
    (err: unknown) => {
      if (state.aborted) return;
      const e = toDistkvError(err);
      res.cork(() => {
        sendError(res, e);
      });
      ctx.metrics.observeRequest(route, method, e.status, ctx.listener.address, e.code, secondsSince(start));
    },
  );
}

/** registerAdminRoutes adds the observability and admin routes. */
export function registerAdminRoutes(app: TemplatedApp, ctx: HttpContext): void {
  app.any('/healthz', (res, req) => {
    const start = performance.now();
    const ok = ctx.state.phase === 'serving';
    sendSeedText(res, ok ? 200 : 503, ok ? 'ok' : ctx.state.phase);
    ctx.metrics.observeRequest(
      'healthz',
      req.getMethod().toUpperCase(),
      ok ? 200 : 503,
      ctx.listener.address,
      ok ? '' : ctx.state.phase === 'draining' ? 'DRAINING' : 'UNAVAILABLE',
      secondsSince(start),
    );
  });

  app.get('/cluster', (res) => {
    const start = performance.now();
    sendJson(res, clusterView(ctx));
    ctx.metrics.observeRequest('cluster', 'GET', 200, ctx.listener.address, '', secondsSince(start));
  });

  app.get('/stats', (res) => {
    const start = performance.now();
    if (refuseIfNotServing(res, ctx, 'stats', 'GET', start)) return;
    answerAsync(
      res,
      ctx,
      'stats',
      'GET',
      start,
      statsView(ctx).then((body) => (r: HttpResponse) => {
        sendJson(r, body);
        return 200;
      }),
    );
  });

  app.get('/metrics', (res) => {
    const start = performance.now();
    answerAsync(
      res,
      ctx,
      'metrics',
      'GET',
      start,
      ctx.registry.metrics().then((text) => (r: HttpResponse) => {
        r.writeHeader('Content-Type', ctx.registry.contentType).end(text);
        return 200;
      }),
    );
  });

  app.any('/purge', (res, req) => {
    const start = performance.now();
    const method = req.getMethod().toUpperCase();
    const denied = authError(req, ctx.config.server.token);
    if (denied) {
      sendSeedText(res, 401, denied.message);
      ctx.metrics.observeRequest(
        'seed_purge',
        method,
        denied.status,
        ctx.listener.address,
        denied.code,
        secondsSince(start),
      );
      return;
    }
    if (refuseIfNotServing(res, ctx, 'seed_purge', method, start)) return;
    answerAsync(
      res,
      ctx,
      'seed_purge',
      method,
      start,
      ctx.pool.callAll({ type: 'purge' }).then((results) => {
        const deleted = results.reduce((n, r) => n + (r.type === 'purge-result' ? r.deleted : 0), 0);
        ctx.log.info({ deleted }, 'purge removed keys this node no longer owns');
        return (r: HttpResponse) => {
          sendSeedText(r, 200, 'Extra keys deleted successfully');
          return 200;
        };
      }),
    );
  });
}

/** registerFallbackRoutes answers 405 on known paths with a wrong method and 404 elsewhere. */
export function registerFallbackRoutes(app: TemplatedApp, ctx: HttpContext): void {
  const methodNotAllowed = (allow: string) => (res: HttpResponse, req: { getMethod(): string }) => {
    const start = performance.now();
    const method = req.getMethod().toUpperCase();
    sendError(
      res,
      new DistkvError('METHOD_NOT_ALLOWED', `${method} is not allowed here; allowed: ${allow}`),
      { headers: { Allow: allow } },
    );
    ctx.metrics.observeRequest(
      'other',
      method,
      405,
      ctx.listener.address,
      'METHOD_NOT_ALLOWED',
      secondsSince(start),
    );
  };
  app.any('/kv/_batch', methodNotAllowed('POST'));
  app.any('/kv/*', methodNotAllowed('GET, PUT, DELETE'));
  app.any('/kv', methodNotAllowed('GET'));
  app.any('/cluster', methodNotAllowed('GET'));
  app.any('/stats', methodNotAllowed('GET'));
  app.any('/metrics', methodNotAllowed('GET'));
  app.any('/*', (res, req) => {
    const start = performance.now();
    const method = req.getMethod().toUpperCase();
    sendError(
      res,
      new DistkvError(
        'ROUTE_NOT_FOUND',
        `no route for ${method} ${req.getUrl()}; see GET /cluster and the README for the API`,
      ),
    );
    ctx.metrics.observeRequest(
      'other',
      method,
      404,
      ctx.listener.address,
      'ROUTE_NOT_FOUND',
      secondsSince(start),
    );
  });
}
