/**
 * The seed's replication protocol (docs/seed-compatibility.md): `/next-replication-key` and
 * `/delete-replication-key?key&value`, a compatibility cursor on the log of the leaders at this
 * address (src/replication/seed-cursor.ts); any method, seed texts (its replica parses them). A
 * leader held behind its replica offers nothing; with no change elsewhere, /next-replication-key
 * is 503 LEADER_BEHIND as text (seedNext), never the empty pair ("caught up").
 */
import { type DistkvError, ERROR_CATALOGUE, toDistkvError } from '../errors.js';
import { authError } from './auth.js';
import type { HttpContext } from './context.js';
import type { HttpRequest, HttpResponse } from './http1-exchange.js';
import { parseQuery } from './request-parse.js';
import { noteServerError, sendSeedText } from './respond.js';
import { answerLater, notServingError } from './route.js';
import type { Router } from './router.js';
import { internal } from './repl-checks.js';

/** seedLeaders lists the leader stores at this listener's address, in shard order. */
function seedLeaders(ctx: HttpContext): { shard: number; worker: number; store: number }[] {
  return ctx.plan.stores
    .filter((st) => st.role === 'leader' && st.node === ctx.listener.address)
    .sort((a, b) => a.shard.idx - b.shard.idx)
    .map((st) => ({ shard: st.shard.idx, worker: st.worker, store: st.index }));
}

/**
 * seedNext is the next change of the leaders at this address, skipping those held behind a
 * replica (behind-leaders.ts): their store is not the shard, and is offered nothing from. With no
 * change elsewhere it throws the first such shard's refusal (LEADER_BEHIND, or SWITCHING_LEADER
 * once it handed the shard over) rather than the empty pair, which a seed replica reads as "caught
 * up" and stops asking for the shard's records. The refusal goes out as text (seedFail): the
 * seed's replica decodes the body as JSON whatever the status, fails on text and asks again a
 * second later, while a JSON error body would decode as the empty pair.
 */
async function seedNext(ctx: HttpContext): Promise<{ key: string; value: string }> {
  let held: DistkvError | undefined;
  for (const l of seedLeaders(ctx)) {
    const behind = ctx.liveMap.behindError(l.shard);
    if (behind !== undefined) {
      held ??= behind;
      continue;
    }
    const r = await ctx.pool.call(l.worker, { type: 'seed-next', stores: [l.store] });
    if (r.type === 'seed-result' && r.change !== null) return r.change;
  }
  if (held !== undefined) throw held;
  return { key: '', value: '' };
}

/** seedAck advances the cursor of the leader here whose next change is `key`/`value` (none held behind: seedNext offers nothing of theirs). */
async function seedAck(ctx: HttpContext, key: string, value: string): Promise<boolean> {
  for (const l of seedLeaders(ctx)) {
    if (ctx.liveMap.behindError(l.shard) !== undefined) continue;
    const r = await ctx.pool.call(l.worker, { type: 'seed-ack', stores: [l.store], key, value });
    if (r.type === 'seed-result' && r.acked) return true;
  }
  return false;
}

/** seedFail answers a failure in the seed's text format. */
function seedFail(res: HttpResponse, err: unknown): void {
  const e = toDistkvError(err);
  noteServerError(res, err, e.status);
  sendSeedText(res, e.status, `Error: ${e.message}`, e.code);
}

/**
 * seedAuthorized answers 401 in the seed's text format and returns false when the token is missing
 * or wrong, and 503 while the node is starting: its workers are not running yet, and the seed
 * replica's log said "shard worker 0 is not running" where every other route says the node is
 * starting (these routes are served while draining: the stores are still open then).
 */
function seedAuthorized(res: HttpResponse, req: HttpRequest, ctx: HttpContext): boolean {
  const denied = authError(req, ctx.config.server.token);
  if (denied !== undefined) {
    sendSeedText(res, 401, denied.message, denied.code);
    return false;
  }
  if (ctx.state.phase !== 'starting') return true;
  seedFail(res, notServingError('starting'));
  return false;
}

/** registerSeedReplication adds the seed's replication endpoints. */
export function registerSeedReplication(app: Router, ctx: HttpContext): void {
  app.any(
    '/next-replication-key',
    internal(ctx, (res, req) => {
      if (!seedAuthorized(res, req, ctx)) return;
      answerLater(
        res,
        seedNext(ctx),
        (r, change) => {
          r.writeHeader('Content-Type', 'application/json').end(`${JSON.stringify(change)}\n`);
        },
        seedFail,
      );
    }),
  );
  app.any(
    '/delete-replication-key',
    internal(ctx, (res, req) => {
      if (!seedAuthorized(res, req, ctx)) return;
      const { params } = parseQuery(req.getQuery());
      const key = params.get('key') ?? '';
      const value = params.get('value') ?? '';
      // `value=` (empty) acknowledges a delete (offered with the empty value); no `value` at all is
      // the seed's 400, not a cursor mismatch: it was answered 409 "not the next change".
      if (key === '' || !params.has('value')) {
        sendSeedText(res, 400, 'Missing key or value', 'MISSING_KEY');
        return;
      }
      answerLater(
        res,
        seedAck(ctx, key, value),
        (r, acked) => {
          if (acked) {
            sendSeedText(r, 200, 'ok');
            return;
          }
          // The seed's text, which its replica logs (it reads the body, never the status); the
          // seed's 500 is a 409 here: the change it names is not the next one, a client's mistake
          // or a race between two replicas on one cursor, not the server's (docs/seed-compatibility.md).
          sendSeedText(
            r,
            ERROR_CATALOGUE.SEED_ACK_NOT_NEXT.status,
            'Error deleting replication key: it is not the next change of the replication log',
            'SEED_ACK_NOT_NEXT',
          );
        },
        seedFail,
      );
    }),
    { write: true },
  );
}
