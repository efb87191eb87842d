/**
 * Batches with conditions (docs/api.md, "Batches with conditions"): a `POST /kv/_batch` in which
 * some operation carries `if_match` / `if_none_match` is applied whole or not at all. That needs
 * one store to decide, so every key must be in one shard (a {hash tag} puts related keys there);
 * a batch whose keys span shards, or that holds an invalid operation, is refused with a 400 before
 * anything is written. The shard's leader runs it as one OP_TXN (src/worker/op-format.ts); when
 * that leader is another node, the batch is forwarded to it whole.
 */
import { DistkvError } from '../errors.js';
import { slotOf } from '../routing/slot.js';
import { neverSent } from '../util/never-sent.js';
import {
  encodeExt,
  encodeTxn,
  OP_DELETE_EXT,
  OP_PUT_EXT,
  OP_TXN,
  ST_CONFLICT,
  ST_DONE,
  ST_ERROR,
  TXN_RESULT_BYTES,
  type TxnSub,
} from '../worker/op-format.js';
import { type BatchOp, expiryAtOf } from './batch-parse.js';
import type { HttpContext } from './context.js';
import { parseWireError } from './key-request.js';
import { type BatchResult, toWireOp } from './scatter-merge.js';
import { extOf, versionOf } from './write-conditions.js';

/** NAMED_FAILURES is how many failed operations a BATCH_ABORTED message names (it is in every aborted result). */
const NAMED_FAILURES = 3;

/** hasConditions tells whether any operation of a batch carries a condition (or asked for one it got wrong). */
export function hasConditions(ops: readonly BatchOp[]): boolean {
  return ops.some((o) => (o.op === 'invalid' ? o.conditional === true : o.cond !== undefined));
}

/**
 * runConditionalBatch applies a batch with conditions all-or-nothing, or throws a 4xx before
 * writing anything. Forwarded, it goes out after the writes `connection` forwarded to its owner
 * before it (forwarder.ts, inOrder).
 */
export async function runConditionalBatch(
  ctx: HttpContext,
  ops: readonly BatchOp[],
  localOnly: boolean,
  connection: object,
): Promise<BatchResult[]> {
  const valid: Exclude<BatchOp, { op: 'invalid' }>[] = [];
  for (const [i, o] of ops.entries()) {
    if (o.op === 'invalid')
      throw new DistkvError(
        o.error.code,
        `a batch with conditions is applied whole or not at all, and ops[${i}] is invalid: ${o.error.message}`,
      );
    valid.push(o);
  }
  const firstOp = new Map<string, number>();
  for (const [i, o] of valid.entries()) {
    const j = firstOp.get(o.key);
    if (j !== undefined)
      throw new DistkvError(
        'INVALID_ARGUMENT',
        `a batch with conditions writes each key once, and ops[${j}] and ops[${i}] both write ${JSON.stringify(o.key)} (every condition is checked against the keys as they were before the batch)`,
      );
    firstOp.set(o.key, i);
  }
  const shards = [...new Set(valid.map((o) => ctx.shardMap.shardOf(o.key)))].sort((a, b) => a - b);
  if (shards.length > 1)
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `a batch with conditions must keep all its keys in one shard to be applied whole or not at all; its keys are in shards ${shards.join(', ')} (put related keys in one shard with a {hash tag})`,
    );
  const shard = shards[0];
  if (shard === undefined) return [];
  // Applied whole or not at all: one key in a slot a peer disputes refuses the batch (slot-gate.ts).
  for (const o of valid) {
    const disputed = ctx.slotGate.refusal(slotOf(o.key));
    if (disputed !== undefined) throw disputed;
  }
  const t = ctx.listener.writes[shard]!;
  const behind = t.local ? ctx.liveMap.behindError(shard) : undefined;
  if (behind !== undefined) throw behind;
  if (!t.local) {
    if (localOnly)
      throw new DistkvError('WRONG_NODE', `the batch's shard ${shard} is led by ${t.address}; send it there`);
    const owner = t.address;
    return ctx.forwarder
      .inOrder(connection, owner, () =>
        ctx.forwarder.batch(
          owner,
          valid.map((o) => toWireOp(o)),
        ),
      )
      .catch((err: unknown) => {
        // The owner's own refusal keeps its code; no answer is OUTCOME_UNKNOWN or SHARD_UNREACHABLE, not a 500.
        if (!(err instanceof DistkvError)) throw unansweredBatch(shard, owner, err);
        ctx.peers.refusedBy(owner, err.code);
        throw err;
      });
  }
  const subs: TxnSub[] = valid.map((o) => {
    const ext = extOf(ctx, shard, o.cond, expiryAtOf(o));
    return o.op === 'set'
      ? { op: OP_PUT_EXT, key: Buffer.from(o.key), value: encodeExt(ext, o.value) }
      : { op: OP_DELETE_EXT, key: Buffer.from(o.key), value: encodeExt(ext) };
  });
  return new Promise((resolve) => {
    ctx.pool.submit(t.worker, OP_TXN, t.store, '', encodeTxn(subs), {
      onReply(status, _seq, value) {
        resolve(resultsOf(ctx, shard, status, value, valid.length));
      },
    });
  });
}

/**
 * unansweredBatch is the error of a batch (or batch part) forwarded to `owner` that did not answer:
 * OUTCOME_UNKNOWN saying that the operations sent may have been applied (the request may have
 * reached the owner before its connection failed or its time ran out), or SHARD_UNREACHABLE saying
 * that none was when the connection was never made (util/never-sent.ts), so the caller knows by
 * the code whether it may simply send them again (as for a `--proxy` relay, proxy.ts).
 */
export function unansweredBatch(shard: number, owner: string, err: unknown): DistkvError {
  if (neverSent(err))
    return new DistkvError(
      'SHARD_UNREACHABLE',
      `shard ${shard} (owner ${owner}) could not be reached: ${(err as Error).message}; nothing was sent to it, so none of its operations was applied`,
      { cause: err },
    );
  return new DistkvError(
    'OUTCOME_UNKNOWN',
    `shard ${shard} (owner ${owner}) did not answer: ${(err as Error).message}; the operations sent to it may have been applied`,
    { cause: err },
  );
}

/** resultsOf turns an OP_TXN reply into one result per operation. */
function resultsOf(ctx: HttpContext, shard: number, status: number, value: Buffer, n: number): BatchResult[] {
  // A set marked in the value had an expiry already past: it was written as a delete (op-format.ts).
  if (status === ST_DONE)
    return Array.from({ length: n }, (_, i) => (value[i] === 1 ? { ok: true, deleted: true } : { ok: true }));
  if (status === ST_ERROR) {
    const error = parseWireError(value).toWire();
    return Array.from({ length: n }, () => ({ ok: false, error }));
  }
  if (status !== ST_CONFLICT || value.length !== n * TXN_RESULT_BYTES)
    throw new DistkvError('INTERNAL', `unexpected reply ${status} to a batch with conditions`);
  const failed = new Set<number>();
  for (let i = 0; i < n; i++) if (value[i * TXN_RESULT_BYTES] === 0) failed.add(i);
  const aborted = `not applied: ${failedOps([...failed])}`;
  return Array.from({ length: n }, (_, i): BatchResult => {
    const version = versionOf(ctx, shard, value.readDoubleLE(i * TXN_RESULT_BYTES + 1))?.slice(1, -1) ?? null;
    if (failed.has(i))
      return {
        ok: false,
        version,
        error: {
          code: 'PRECONDITION_FAILED',
          message: `the condition does not hold: the key's version is ${version ?? 'none (missing)'}`,
        },
      };
    return {
      ok: false,
      version,
      error: {
        code: 'BATCH_ABORTED',
        message: aborted,
      },
    };
  });
}

/** failedOps says which conditions failed, naming at most NAMED_FAILURES operations. */
function failedOps(failed: readonly number[]): string {
  const named = failed.slice(0, NAMED_FAILURES).map((i) => `ops[${i}]`);
  const more = failed.length - named.length;
  return `the condition of ${named.join(', ')}${more > 0 ? ` and ${more} more operations` : ''} does not hold`;
}
