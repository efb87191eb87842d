/**
 * Key dispatch: where one key's request goes, and its submission there. Shared by the single-key
 * routes (kv-routes.ts: REST `/kv/{key}` and the seed's `/get` and `/set`, and through its
 * dispatch the fast handlers of kv-fast.ts); the refusals (`sendDisputed`, `sendSwitching`) and a
 * replica's lag serve the collection and watch routes too.
 *
 * placeKey routes a key once (slot → shard → this listener's target) and either returns where to
 * serve it (here, or its owner with `--proxy`) or answers itself: 307 to the owner, 503 for a slot
 * a peer disputes, a shard being switched, a leader behind its replica or without its lease. A
 * refusal on a seed endpoint is Go's http.Error text, elsewhere JSON (respond.ts). dispatch submits
 * one operation to the worker owning the key's shard, answered through a KeyRequest
 * (key-request.ts); a read served by a replica carries X-Distkv-Lag.
 *
 * The fast handlers (kv-fast.ts) reach dispatch through the one closure kv-routes.ts builds per
 * listener: whatever is added here is added to every fast GET, PUT and DELETE (its design block).
 */
import { DistkvError } from '../errors.js';
import { MAP_HEADER } from '../routing/live-map.js';
import { describeLag, lagHeader, provablyWithin, type ReplicaLag, replicaLag } from '../replication/lag.js';
import { slotOf, slotOfBytes } from '../routing/slot.js';
import { heldReadMessage, leaselessReadMessage, readsHeld } from '../server/map-keeper.js';
import type { Target } from '../server/node-plan.js';
import { OP_GET, type OpCode } from '../worker/op-format.js';
import type { HttpContext } from './context.js';
import { FORWARDED_HEADER } from './forwarder.js';
import type { HttpRequest, HttpResponse } from './http1-exchange.js';
import { KeyRequest, type KeyKind, KIND_SEED_GET, KIND_SEED_SET } from './key-request.js';
import { readsLeader } from './own-writes.js';
import type { ReadConditions } from './read-conditions.js';
import { sendRedirect } from './redirect.js';
import { sendError, sendSeedError } from './respond.js';

/**
 * lagOf returns X-Distkv-Lag for a read served by a replica (seqs behind its leader, or its state and
 * the time since its last contact when the lag is unknown), else undefined. With `maxLagMs` it
 * throws REPLICA_STALE unless the replica proves it held all its leader had `maxLagMs` ago
 * (src/replication/lag.ts).
 */
function lagOf(
  ctx: HttpContext,
  t: Target & { local: true },
  maxLagMs: number | undefined,
): string | undefined {
  const lag = replicaLagOf(ctx, t);
  if (lag === undefined) return undefined;
  if (maxLagMs !== undefined && !provablyWithin(lag, maxLagMs))
    throw new DistkvError(
      'REPLICA_STALE',
      `this replica cannot prove it is within max_lag_ms=${maxLagMs} of its leader: ${describeLag(lag)}; read from the leader`,
    );
  return lagHeader(lag);
}

/** replicaLagOf returns the lag of a local target that is a replica (undefined for a leader). */
export function replicaLagOf(ctx: HttpContext, t: Target & { local: true }): ReplicaLag | undefined {
  if (t.role !== 'replica') return undefined;
  const liveLeaderSeq = t.leaderStore === undefined ? undefined : ctx.pool.lastSeq(t.leaderStore);
  return replicaLag(ctx.pool.positions, t.store, liveLeaderSeq, ctx.config.replication.pull_wait_ms);
}

/** NO_CONCERN is the concern of a request without `w`: no replica is waited for. */
export const NO_CONCERN = { w: 0, timeoutMs: 0 };

/**
 * dispatch submits one key operation to the worker that owns its shard; a KeyRequest answers
 * (503 SWITCHING_LEADER when the shard's leader left this process since the key was placed).
 * `value` must stay valid only for the duration of the call. A write waits for `concern`, and so
 * does a read with `w` > 0, served by the shard's leader; another read accepts a replica's lag up
 * to `maxLagMs` (undefined: any).
 */
export function dispatch(
  res: HttpResponse,
  ctx: HttpContext,
  kind: KeyKind,
  op: OpCode,
  key: string | Uint8Array,
  shard: number,
  value: Uint8Array | string | undefined,
  concern: { w: number; timeoutMs: number } = NO_CONCERN,
  maxLagMs?: number,
  conds?: ReadConditions,
): void {
  const listener = ctx.listener;
  const target = op === OP_GET && concern.w === 0 ? listener.reads[shard]! : listener.writes[shard]!;
  if (!target.local) {
    // The key was placed here when the head arrived, and a new map moved the shard's leader to
    // another node while the body was arriving: nothing was executed, so the client may send it
    // again (it was a 500 INTERNAL, "dispatch: shard is not local", as if a bug).
    sendSwitching(
      res,
      ctx,
      `shard ${shard}'s leader moved to ${target.address} while this request was arriving; it was not executed: retry`,
      kind === KIND_SEED_GET ? '/get' : kind === KIND_SEED_SET ? '/set' : undefined,
    );
    return;
  }
  const lag = op === OP_GET ? lagOf(ctx, target, maxLagMs) : undefined;
  const request = new KeyRequest(
    res,
    kind,
    shard,
    lag,
    ctx,
    concern.w > 0 ? () => !ctx.liveMap.leaderWithoutLease(target.role, shard) : undefined,
    conds,
  );
  ctx.pool.submit(target.worker, op, target.store, key, value, request, concern.w, concern.timeoutMs);
}

/** Placement is where a key's request goes: this process (`owner` undefined) or, with `--proxy`, `owner`. */
export interface Placement {
  shard: number;
  owner: string | undefined;
}

/**
 * placeKey routes a key once (slot → shard → this listener's target). It returns where to serve it:
 * here, or forwarded to its owner when the node proxies (`--proxy`) and the request was not itself
 * forwarded by another node. Otherwise it answers itself (307, or 503 for a slot a peer disputes,
 * a shard being switched or a leader without its lease) and returns undefined. A read with a read
 * concern (`leaderRead`, `w` > 0) is placed at the shard's leader, as a write is.
 */
export function placeKey(
  res: HttpResponse,
  req: HttpRequest,
  ctx: HttpContext,
  url: string,
  query: string,
  key: string | Uint8Array,
  write: boolean,
  leaderRead = false,
): Placement | undefined {
  const slot = typeof key === 'string' ? slotOf(key) : slotOfBytes(key);
  const disputed = ctx.slotGate.refusal(slot);
  if (disputed !== undefined) {
    // A peer's config gives the slot another leader: neither served, nor sent elsewhere (slot-gate.ts).
    sendDisputed(res, disputed, seedPathOf(url));
    return undefined;
  }
  const shard = ctx.shardMap.shardOfSlot(slot);
  // A read after a write this connection forwarded to the shard's leader reads there (own-writes.ts).
  const leader = write || leaderRead || readsLeader(ctx, res.connection, shard);
  const target = leader ? ctx.listener.writes[shard]! : ctx.listener.reads[shard]!;
  const behind = target.local && target.role === 'leader' ? ctx.liveMap.behindError(shard) : undefined;
  if (behind !== undefined) {
    // A leader that started behind its replica (behind-leaders.ts): nothing here is served. Once it
    // gave up its leader key for the replica to take over, that is a switch, waited out likewise.
    if (behind.code === 'SWITCHING_LEADER') sendSwitching(res, ctx, behind.message, seedPathOf(url));
    else sendRefused(res, behind, {}, seedPathOf(url));
    return undefined;
  }
  if (target.local && (write || leaderRead) && ctx.liveMap.writesFenced(shard)) {
    // Held, not failed: the write was not executed, and the client may send it again.
    sendSwitching(res, ctx, `shard ${shard}'s leader is being switched; retry shortly`, seedPathOf(url));
    return undefined;
  }
  if (target.local && !write && ctx.liveMap.leaderWithoutLease(target.role, shard)) {
    // A leader without its lease may have been replaced: its answer could be older than a write the
    // new leader acknowledged, and nothing would say so. Replicas still serve, with X-Distkv-Lag.
    sendSwitching(res, ctx, leaselessReadMessage(shard), seedPathOf(url));
    return undefined;
  }
  if (target.local && !write && readsHeld(ctx.liveMap, target.role, shard)) {
    // Likewise a leader whose writes a failover holds: its target may lead by now (map-keeper.ts).
    sendSwitching(res, ctx, heldReadMessage(shard), seedPathOf(url));
    return undefined;
  }
  if (target.local) return { shard, owner: undefined };
  if (ctx.proxy && req.getHeader(FORWARDED_HEADER) === '') return { shard, owner: target.address };
  res.route = 'redirect';
  sendRedirect(
    res,
    ctx.scheme,
    url,
    query,
    { shard, slot, owner: target.address },
    ctx.shardMap.hash,
    ctx.liveMap.current.version,
  );
  return undefined;
}

/** SeedPath is the seed endpoint a request came to, whose errors are text (docs/api.md); undefined for the native API. */
type SeedPath = '/get' | '/set' | undefined;

/** seedPathOf is `url` when it is the seed's `/get` or `/set`, else undefined. */
function seedPathOf(url: string): SeedPath {
  return url === '/get' || url === '/set' ? url : undefined;
}

/** sendRefused answers a request not executed: JSON, or on a seed endpoint Go's http.Error text. */
function sendRefused(
  res: HttpResponse,
  e: DistkvError,
  headers: Record<string, string>,
  seed: SeedPath,
): void {
  if (seed === undefined) sendError(res, e, { headers });
  else sendSeedError(res, e, seed, headers);
}

/** sendDisputed answers 503 SLOTS_DISPUTED (slot-gate.ts) with Retry-After: not executed, retry. */
export function sendDisputed(res: HttpResponse, e: DistkvError, seed?: SeedPath): void {
  sendRefused(res, e, { 'Retry-After': '1' }, seed);
}

/** sendSwitching answers 503 SWITCHING_LEADER with Retry-After and the live map's version: not executed, retry. */
export function sendSwitching(res: HttpResponse, ctx: HttpContext, message: string, seed?: SeedPath): void {
  const e = new DistkvError('SWITCHING_LEADER', message);
  sendRefused(res, e, { 'Retry-After': '1', [MAP_HEADER]: String(ctx.liveMap.current.version) }, seed);
}
