/**
 * DistkvClient.batch(): operations grouped by the leader of their key's shard, each owner's sent
 * in bounded chunks one after another (batch-wire.ts), so each shard applies its own in order. A
 * failed operation is a result, not a rejection, an owner that cannot be reached too: the results
 * of the other owners, which may have applied theirs, stand.
 */
import { DistkvError, OutcomeUnknownError } from '../errors.js';
import type { ShardMap } from '../routing/shard-map.js';
import { batchResult, chunks, conditional, type WireResult, wireOp } from './batch-wire.js';
import type { Reply } from './exchange.js';
import type { Sender } from './sender.js';
import { checkExpiryOptions } from './call-options.js';
import { checkText } from './key-bytes.js';
import { checkConditionTypes, ifMatchValue } from './wire-decode.js';
import type { BatchOp, BatchResult } from './types.js';

/**
 * OP_FIELDS are the fields of each operation. A delete's `ifNoneMatch` goes to the node, whose
 * INVALID_ARGUMENT result says why it deletes nothing.
 */
const OP_FIELDS = {
  set: ['op', 'key', 'value', 'ttlMs', 'expiresAtMs', 'ifMatch', 'ifNoneMatch'],
  delete: ['op', 'key', 'ifMatch', 'ifNoneMatch'],
} as const;

/**
 * checkOp refuses (INVALID_ARGUMENT, nothing sent) an operation the types allow no other way: from
 * JavaScript, an `op` that is neither "set" nor "delete" was sent as a set (wireOp), a set
 * without a string or bytes value threw a TypeError from Buffer.from, a field misspelt (`ttl` for
 * `ttlMs`: a key that never expires) was dropped, an operation that is null threw a TypeError, and
 * a `ttlMs` or `expiresAtMs` a put would refuse (call-options.ts) was left to the node.
 */
function checkOp(op: BatchOp, i: number): void {
  const entry: unknown = op;
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `batch operation ${i} must be an object ({ op, key, ... }), got ${entry === null ? 'null' : Array.isArray(entry) ? 'an array' : typeof entry}`,
    );
  const kind: unknown = op.op;
  if (kind !== 'set' && kind !== 'delete')
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `batch operation ${i}: op must be "set" or "delete", got ${typeof kind === 'string' ? JSON.stringify(kind) : String(kind)}`,
    );
  const known: readonly string[] = OP_FIELDS[kind];
  const unknown = Object.keys(op).find((f) => !known.includes(f));
  if (unknown !== undefined)
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `batch operation ${i}: a ${kind} has no field "${unknown}" (its fields: ${known.join(', ')})`,
    );
  const key: unknown = op.key;
  if (typeof key !== 'string')
    throw new DistkvError(
      'INVALID_KEY',
      `batch operation ${i}: key must be a string (a batch carries keys as JSON text), got ${key === null ? 'null' : typeof key}`,
    );
  checkText(key, 'key');
  checkConditionTypes(op, `batch operation ${i}: `);
  // Read as put() reads it, and refused before any owner is sent anything.
  if (op.ifMatch !== undefined) ifMatchValue(op.ifMatch, `batch operation ${i}: `);
  if (op.op === 'delete') return;
  checkExpiryOptions(op, `batch operation ${i}`);
  const value: unknown = op.value;
  if (typeof value === 'string') checkText(value, 'value');
  else if (!(value instanceof Uint8Array))
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `batch operation ${i}: a set needs a value, a string or bytes (Buffer, Uint8Array); got ${value === null ? 'null' : typeof value}`,
    );
}

/** sendBatch applies `ops` with `map`'s owners and resolves with one result per operation, in order. */
export async function sendBatch(
  sender: Sender,
  map: ShardMap,
  ops: readonly BatchOp[],
  signal: AbortSignal | undefined,
): Promise<BatchResult[]> {
  const list: unknown = ops;
  if (!Array.isArray(list))
    throw new DistkvError('INVALID_ARGUMENT', `a batch is an array of operations, got ${typeof list}`);
  ops.forEach(checkOp);
  const shards = new Set(ops.map((op) => map.shardOf(op.key)));
  if (conditional(ops) && shards.size > 1)
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `a batch with conditions must keep all its keys in one shard; its keys are in shards ${[...shards].sort((a, b) => a - b).join(', ')} (use a {hash tag})`,
    );
  const byOwner = new Map<string, number[]>();
  ops.forEach((op, i) => {
    const owner = map.shard(map.shardOf(op.key)).address;
    byOwner.set(owner, [...(byOwner.get(owner) ?? []), i]);
  });
  const results = new Array<BatchResult>(ops.length);
  await Promise.all(
    [...byOwner].map(async ([owner, indexes]) => {
      // One owner's chunks go one after another, so its shards apply their operations in order;
      // after one fails, the rest are not sent (they would overtake an outcome still unknown).
      let failed: DistkvError | undefined;
      // A refused chunk (DRAINING) is sent again to the shard's new leader when a newer map names
      // one: with the owner's operations all in one shard, that is where they go.
      const owned = new Set(indexes.map((i) => map.shardOf(ops[i]!.key)));
      const shard = owned.size === 1 ? map.shard([...owned][0]!) : undefined;
      for (const chunk of chunks(indexes, ops)) {
        if (failed !== undefined) {
          const notSent = new DistkvError(
            failed.code,
            `not sent: an earlier request of this batch to ${owner} failed (${failed.message})`,
          );
          for (const i of chunk) results[i] = { ok: false, error: notSent };
          continue;
        }
        let wireResults: (WireResult | undefined)[];
        try {
          const wire = chunk.map((i) => wireOp(ops[i]!));
          const r = await sender.send('POST', owner, '/kv/_batch', {
            body: JSON.stringify(wire),
            read: false,
            signal,
            shard,
          });
          wireResults = resultsOf(r, owner);
        } catch (err) {
          // What one owner did is its operations' results: the others' results stand (they may
          // have been applied), so the batch does not reject for it.
          if (!(err instanceof DistkvError) || signal?.aborted === true) throw err;
          failed = err;
          for (const i of chunk) results[i] = { ok: false, error: err };
          continue;
        }
        chunk.forEach((i, k) => {
          const result = batchResult(wireResults[k], owner, i);
          results[i] = result;
          // An operation that may yet be applied: the later chunks would overtake it, as above.
          if (!result.ok && result.error instanceof OutcomeUnknownError) failed ??= result.error;
        });
      }
    }),
  );
  return results;
}

/**
 * resultsOf reads a batch answer's results. An answer that is not the documented JSON (a node that
 * answers garbage) came after the request was sent: its operations may have been applied.
 */
function resultsOf(r: Reply, owner: string): (WireResult | undefined)[] {
  let doc: unknown;
  try {
    doc = JSON.parse(r.body.toString('utf8'));
  } catch {
    doc = undefined;
  }
  const results = (doc as { results?: unknown } | null | undefined)?.results;
  if (!Array.isArray(results))
    throw new OutcomeUnknownError(
      `${owner} answered the batch (HTTP ${r.status}) without a list of results; the operations may have been applied`,
    );
  return results as (WireResult | undefined)[];
}
