/**
 * Edits: OP_EDIT (op-format.ts), the read-modify-writes that keep a key's expiry, as Redis's
 * APPEND, SETRANGE, INCRBYFLOAT do, and those that change only the expiry, GETEX, EXPIRE (with
 * Redis 7's NX/XX/GT/LT checked against the newest expiry, conditions.ts) and PERSIST. Like OP_INCR, an edit reads the key's newest value,
 * a write in flight included (pending-writes.ts), and issues its write in the same synchronous
 * step, so edits and other read-modify-writes of one key chain in order and none is lost. The
 * write keeps the expiry the newest value has; GETEX, EXPIRE and PERSIST alone change it.
 *
 * An edit that writes nothing (SETRANGE of no bytes, GETEX of a missing key or a PERSIST of a key
 * without expiry, an EXPIRE of a missing key or whose condition does not hold) answers with the store's last seq, as a read does: at once, or once the key's
 * write in flight that it read is durable (StoreWrites.answerRead). One that would write more than
 * the edit's limit answers VALUE_TOO_LARGE and writes nothing.
 *
 * Owned by one shard worker thread; the request's views are used before `run` returns.
 */
import { DistkvError } from '../errors.js';
import type { Store } from '../storage/store.js';
import { expiryConditionHolds } from './conditions.js';
import { addFloat } from './long-double.js';
import {
  decodeEdit,
  EDIT_APPEND,
  EDIT_EXPIRE,
  EDIT_GETEX,
  EDIT_INCRBY,
  EDIT_INCRBYFLOAT,
  EDIT_PERSIST,
  EDIT_SETRANGE,
  type Edit,
  ST_DONE,
} from './op-format.js';
import { liveValue } from './pending-writes.js';
import { encodeOld, incremented } from './read-modify-write.js';
import type { StoreWrites } from './store-writes.js';

/** Newest is a key's newest live value and its expiry (epoch ms; 0 = none). */
export interface Newest {
  value: Uint8Array;
  expiresAtMs: number;
}

/** newestOf returns the newest live value of `key`, a write in flight included, or undefined when it is missing. */
export function newestOf(
  writes: StoreWrites,
  index: number,
  store: Store,
  key: Uint8Array,
): Newest | undefined {
  const pending = writes.pending;
  const e = pending.find(index, key);
  if (e >= 0) {
    const expiresAtMs = pending.expiresAt(e);
    const value = liveValue(pending.valueAt(e), expiresAtMs, Date.now());
    return value === null ? undefined : { value, expiresAtMs };
  }
  const v = store.read(key);
  return v === undefined ? undefined : { value: v.value, expiresAtMs: v.expiresAtMs };
}

/** Outcome is what an edit writes (a value, null = delete, undefined = nothing), with what expiry, and its reply. */
interface Outcome {
  write: Uint8Array | null | undefined;
  expiresAtMs: number;
  reply: Uint8Array;
}

function checkSize(length: number, limit: number): void {
  if (length > limit) throw new DistkvError('VALUE_TOO_LARGE', `value is ${length} bytes; limit is ${limit}`);
}

/** outcomeOf computes an edit on the key's newest value `cur`; throws what Redis would refuse. */
function outcomeOf(edit: Edit, cur: Newest | undefined): Outcome {
  const old = cur?.value;
  const expiresAtMs = cur?.expiresAtMs ?? 0;
  switch (edit.kind) {
    case EDIT_APPEND: {
      const length = (old?.length ?? 0) + edit.arg.length;
      checkSize(length, edit.limit);
      const next = Buffer.concat(old === undefined ? [edit.arg] : [old, edit.arg]);
      return { write: next, expiresAtMs, reply: Buffer.from(String(length)) };
    }
    case EDIT_SETRANGE: {
      const at = Buffer.from(edit.arg.buffer, edit.arg.byteOffset, edit.arg.length).readUInt32LE(0);
      const bytes = edit.arg.subarray(4);
      const oldLength = old?.length ?? 0;
      if (bytes.length === 0) return { write: undefined, expiresAtMs, reply: Buffer.from(String(oldLength)) };
      const length = Math.max(oldLength, at + bytes.length);
      checkSize(length, edit.limit);
      const next = Buffer.alloc(length);
      if (old !== undefined) next.set(old, 0);
      next.set(bytes, at);
      return { write: next, expiresAtMs, reply: Buffer.from(String(length)) };
    }
    case EDIT_INCRBYFLOAT: {
      const sum = addFloat(
        old === undefined ? undefined : Buffer.from(old).toString('latin1'),
        Buffer.from(edit.arg).toString('latin1'),
      );
      if ('error' in sum)
        throw new DistkvError(
          'INVALID_ARGUMENT',
          sum.error === 'not-a-float'
            ? 'value is not a valid float'
            : 'increment would produce NaN or Infinity',
        );
      const next = Buffer.from(sum.value, 'latin1');
      checkSize(next.length, edit.limit);
      return { write: next, expiresAtMs, reply: next };
    }
    case EDIT_INCRBY: {
      // OP_INCR's arithmetic (at most 20 bytes), held to the edit's limit.
      const next = incremented(old, edit.arg);
      checkSize(next.length, edit.limit);
      return { write: next, expiresAtMs, reply: next };
    }
    case EDIT_GETEX: {
      const reply = encodeOld(old);
      if (old === undefined || (edit.atMs === 0 && expiresAtMs === 0))
        return { write: undefined, expiresAtMs, reply };
      if (edit.atMs > 0 && edit.atMs <= Date.now()) return { write: null, expiresAtMs: 0, reply };
      return { write: Buffer.from(old), expiresAtMs: edit.atMs, reply };
    }
    case EDIT_EXPIRE: {
      if (old === undefined || !expiryConditionHolds(edit.arg[0] ?? 0, expiresAtMs, edit.atMs))
        return { write: undefined, expiresAtMs, reply: Buffer.from('0') };
      // A time at or before now deletes the key, and answers 1 as Redis does.
      if (edit.atMs <= Date.now()) return { write: null, expiresAtMs: 0, reply: Buffer.from('1') };
      return { write: Buffer.from(old), expiresAtMs: edit.atMs, reply: Buffer.from('1') };
    }
    case EDIT_PERSIST:
      if (old === undefined || expiresAtMs === 0)
        return { write: undefined, expiresAtMs, reply: Buffer.from('0') };
      return { write: Buffer.from(old), expiresAtMs: 0, reply: Buffer.from('1') };
    default:
      throw new DistkvError('BAD_REQUEST', `unknown edit kind ${edit.kind}`);
  }
}

/** runEdit runs one OP_EDIT on store `index`: computes it against the newest value and issues its write. */
export function runEdit(
  writes: StoreWrites,
  op: { id: number; store: number; key: Uint8Array; value: Uint8Array; w: number; timeoutMs: number },
  store: Store,
): void {
  writes.checkWritable(op.store);
  const edit = decodeEdit(op.value);
  let out: Outcome;
  try {
    out = outcomeOf(edit, newestOf(writes, op.store, store, op.key));
  } catch (err) {
    // Not a float, past the limit...: found in the newest value, maybe a write in flight.
    writes.refuseRead(op.id, op.store, op.key, err);
    return;
  }
  if (out.write === undefined) {
    writes.answerRead(op.id, op.store, op.key, ST_DONE, undefined, out.reply);
    return;
  }
  const reply = Buffer.from(out.reply);
  writes.write(
    op.id,
    op.store,
    store,
    op.key,
    out.write,
    op.w,
    op.timeoutMs,
    reply,
    ST_DONE,
    out.expiresAtMs,
  );
}
