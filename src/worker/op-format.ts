/**
 * The binary format of key operations between the front door (main thread) and a shard worker.
 *
 * All requests the main thread receives for one worker in one event-loop turn travel as one
 * request batch; the worker answers with reply batches (reads at once, writes when durable). One
 * batch is one transferred ArrayBuffer: no per-request postMessage, no structured clone of objects.
 * Integers are little-endian.
 *
 *   request-batch := VERSION:u8 request*
 *   request       := id:u32 op:u8 store:u16 keyLen:u16 valueLen:u32 w:u8 timeoutMs:u32 key:keyLen value:valueLen
 *   op            := OP_GET | OP_PUT | OP_DELETE | OP_INCR | OP_SET_IF | OP_DELETE_COUNTED | OP_WAIT
 *                  | OP_PUT_EXT | OP_DELETE_EXT | OP_TXN | OP_GET_EXPIRY | OP_EDIT
 *   reply-batch   := VERSION:u8 reply*
 *   reply         := id:u32 status:u8 seq:f64 valueLen:u32 value:valueLen
 *   status        := ST_VALUE   (value = the stored bytes; seq = the seq of the key's last write, its version)
 *                  | ST_DONE    (a write is durable; seq = its sequence number)
 *                  | ST_MISSING (no such key; for a delete: durable like ST_DONE, the key did not exist)
 *                  | ST_ERROR   (value = UTF-8 JSON {"code","message"}, a WireError)
 *                  | ST_CONFLICT (a condition of an _EXT op failed, nothing written; seq = the key's
 *                               current version seq, 0 when it is missing)
 *
 * The read-modify-write ops run atomically on the store's worker against the newest value written,
 * durable or not (src/worker/pending-writes.ts), and answer once their own write is durable (one
 * that writes nothing, once the write in flight it read is, as a read; a failure of it fails them):
 *   OP_INCR           value = the signed decimal delta; reply ST_DONE, value = the new decimal value
 *   OP_SET_IF         value = set-if (SET_IF_ flags); reply ST_DONE when written, ST_MISSING when
 *                     its condition kept it from being written; either way value = old, or empty
 *                     with SET_IF_NO_OLD (SET without GET, SETEX, SETNX: nothing of size comes back)
 *   set-if            := flags:u8 [expiresAtMs:f64, with SET_IF_EXPIRES] bytes
 *                     the key is written with no expiry, or with SET_IF_EXPIRES expiring at
 *                     expiresAtMs (one at or before now deletes it), or with SET_IF_KEEP_TTL
 *                     keeping the newest expiry it has (Redis's SET ... GET EX/PX/EXAT/PXAT/KEEPTTL)
 *   OP_DELETE_COUNTED value = empty, or COUNTED_FOUND_ONLY: reply ST_DONE, value = old, or with
 *                     COUNTED_FOUND_ONLY only old's first byte (a missing key is not written at all)
 *   old               := 0x00 (the key was missing) | 0x01 bytes (its value before)
 *   OP_WAIT           value = seq:f64, waits like a `w` write for seq; reply ST_DONE, seq = the
 *                     number of replicas holding seq (even when fewer than w, after timeoutMs)
 *
 * The extended writes carry conditions on the key's version and an expiry (docs/api.md, "Versions"):
 *   OP_PUT_EXT        value = ext bytes; a put, expiring at expiresAtMs when it is not 0; reply
 *                     ST_DONE, or ST_MISSING when that expiry (or the one EXT_KEEP_TTL keeps) is at
 *                     or before now: written as a delete, durable like ST_DONE (seq = the delete's),
 *                     the key does not exist (X-Distkv-Deleted, docs/api.md "TTL")
 *   OP_DELETE_EXT     value = ext; a delete (expiresAtMs ignored); replies as OP_DELETE does
 *   ext               := flags:u8 ifSeq:f64 expiresAtMs:f64                    (EXT_BYTES)
 *   flags             := COND_IF_MATCH (the key exists and its seq is ifSeq)
 *                      | COND_IF_NONE_MATCH (the key is missing) | COND_IF_EXISTS (the key exists)
 *                      | COND_EXPIRES (the key exists and has an expiry)
 *                      | EXT_KEEP_TTL (a put keeps the key's current expiry; Redis's SET KEEPTTL)
 *                      | EXT_KEEP_VALUE (a put keeps the key's current value and sets only the
 *                        expiry; the request carries no value; Redis's EXPIRE and PERSIST)
 *   OP_GET_EXPIRY     reply ST_VALUE, value = expiresAtMs:f64 (0 = none), or ST_MISSING
 *
 * An edit is a read-modify-write that keeps the key's expiry (Redis's APPEND, SETRANGE,
 * INCRBYFLOAT, GETEX; src/worker/edits.ts), run like OP_INCR against the newest value:
 *   OP_EDIT           value = edit; reply ST_DONE (seq = its write's, or the store's last seq when
 *                     nothing needed writing), value = the edit's result
 *   edit              := kind:u8 limit:u32 atMs:f64 arg        (EDIT_HEADER_BYTES before arg)
 *   kind              := EDIT_APPEND (arg = suffix; result = new length, decimal)
 *                      | EDIT_SETRANGE (arg = offset:u32 bytes; result = new length, decimal)
 *                      | EDIT_INCRBYFLOAT (arg = decimal delta; result = the new value)
 *                      | EDIT_INCRBY (OP_INCR as an edit, held to its limit; RESP sends it when
 *                        max_value_bytes is under the 20 bytes of the longest 64-bit integer)
 *                      | EDIT_GETEX (atMs > 0: expire then, deleting a key whose time is past;
 *                        atMs = 0: remove the expiry; result = old)
 *                      | EDIT_EXPIRE (arg = cond:u8, EXPIRE_ flags; if the key exists and cond
 *                        holds, it expires at atMs, any number, deleting the key when atMs is at
 *                        or before now; result = "1", else "0" and nothing written; Redis 7's
 *                        EXPIRE [NX|XX|GT|LT], conditions.ts)
 *                      | EDIT_PERSIST (if the key exists and has an expiry, it is removed:
 *                        result = "1", else "0" and nothing written; Redis's PERSIST)
 *   limit             := the largest value the edit may write (else VALUE_TOO_LARGE; GETEX and
 *                        EXPIRE write back the value they read and do not check it)
 * Conditions are checked on the store's worker against the newest write, durable or not: an op whose
 * key has a write in flight waits for it to settle, then is checked (src/worker/pending-writes.ts).
 *
 * A conditional batch of one store is all-or-nothing (docs/api.md, "Batches with conditions"):
 *   OP_TXN            key = "", value = count:u16 sub*; every condition is checked against the
 *                     keys as they were before the batch; if all hold, every write is issued in the
 *                     same turn (one group commit) and the reply is ST_DONE (seq = the last one;
 *                     value = empty, or, when an OP_PUT_EXT sub was written as a delete (its
 *                     expiry past, as above), one byte per sub: 1 for each such put, else 0);
 *                     else nothing is written and the reply is ST_CONFLICT, value = result*
 *   sub               := op:u8 keyLen:u16 valueLen:u32 key value   (op OP_PUT_EXT | OP_DELETE_EXT)
 *   result            := held:u8 seq:f64                (held 0 = this condition failed; seq = current)
 *
 * `id` is chosen by the main thread and echoed back; `store` is the process-wide store index; a
 * write with `w` > 0 is answered only once `w` replicas acknowledged it, or with REPLICATION_TIMEOUT
 * after `timeoutMs`. So is an OP_GET with `w` > 0 (a read concern), once `w` replicas hold the
 * leader store's last seq when it was read; a store that is not a leader refuses it
 * (SWITCHING_LEADER).
 */

/** OP_VERSION is the format version byte at the start of every batch. */
export const OP_VERSION = 3;

/** OP_GET reads a key. */
export const OP_GET = 1;
/** OP_PUT writes a key. */
export const OP_PUT = 2;
/** OP_DELETE deletes a key. */
export const OP_DELETE = 3;

/** OP_INCR adds a decimal delta to a key holding a decimal 64-bit integer (missing = 0). */
export const OP_INCR = 4;
/** OP_SET_IF writes a key if its SET_IF_ condition holds, reporting the old value. */
export const OP_SET_IF = 5;
/** OP_DELETE_COUNTED deletes a key, reporting whether it existed. */
export const OP_DELETE_COUNTED = 6;
/** COUNTED_FOUND_ONLY, as an OP_DELETE_COUNTED's value, leaves the old value out of its reply (RESP DEL). */
export const COUNTED_FOUND_ONLY = Buffer.of(1);
/** OP_WAIT waits until replicas acknowledge a seq of the store. */
export const OP_WAIT = 7;

/** OP_PUT_EXT is a put with conditions and an expiry. */
export const OP_PUT_EXT = 8;
/** OP_DELETE_EXT is a delete with conditions. */
export const OP_DELETE_EXT = 9;

/** OP_TXN is an all-or-nothing batch of _EXT writes on one store. */
export const OP_TXN = 10;
/** TXN_SUB_HEADER_BYTES is a sub-op's size before its key; TXN_RESULT_BYTES one result's size. */
export const TXN_SUB_HEADER_BYTES = 1 + 2 + 4;
export const TXN_RESULT_BYTES = 1 + 8;

/** COND_ flags of an ext: IF_MATCH = the version is ifSeq, IF_NONE_MATCH = missing, IF_EXISTS = present. */
export const COND_IF_MATCH = 1;
export const COND_IF_NONE_MATCH = 2;
export const COND_IF_EXISTS = 4;
/** EXT_KEEP_TTL makes a put keep the key's current expiry instead of expiresAtMs. */
export const EXT_KEEP_TTL = 8;
/** EXT_KEEP_VALUE makes a put keep the key's current value (only its expiry changes). */
export const EXT_KEEP_VALUE = 16;
/** COND_EXPIRES: the key exists and has an expiry. */
export const COND_EXPIRES = 32;
/** OP_GET_EXPIRY reads a key's expiry. */
export const OP_GET_EXPIRY = 11;
/** OP_EDIT is a read-modify-write that keeps the key's expiry; EDIT_ kinds say which. */
export const OP_EDIT = 12;
/** EDIT_ kinds of OP_EDIT. */
export const EDIT_APPEND = 1;
export const EDIT_SETRANGE = 2;
export const EDIT_INCRBYFLOAT = 3;
export const EDIT_GETEX = 4;
export const EDIT_INCRBY = 5;
export const EDIT_EXPIRE = 6;
export const EDIT_PERSIST = 7;
/**
 * EXPIRE_ flags of an EDIT_EXPIRE's cond, Redis 7's: NX = the key has no expiry, XX = it has one,
 * GT = it has one and atMs is later, LT = it has none or atMs is earlier (no expiry counts as an
 * infinite one). Several given must all hold.
 */
export const EXPIRE_NX = 1;
export const EXPIRE_XX = 2;
export const EXPIRE_GT = 4;
export const EXPIRE_LT = 8;
/** EDIT_HEADER_BYTES is the size of an edit before its arg. */
export const EDIT_HEADER_BYTES = 1 + 4 + 8;
/** EXT_BYTES is the size of an ext before the value. */
export const EXT_BYTES = 1 + 8 + 8;

/** SET_IF_ flags of OP_SET_IF: NX = only if missing, XX = only if present. */
export const SET_IF_NX = 1;
export const SET_IF_XX = 2;
/** SET_IF_EXPIRES: an expiresAtMs:f64 follows the flags, the write's expiry; SET_IF_KEEP_TTL keeps the key's. */
export const SET_IF_EXPIRES = 4;
export const SET_IF_KEEP_TTL = 8;
/** SET_IF_NO_OLD: the reply carries no old value (its value is empty). */
export const SET_IF_NO_OLD = 16;

/** ST_VALUE: the key's value follows. */
export const ST_VALUE = 0;
/** ST_DONE: the write is durable. */
export const ST_DONE = 1;
/** ST_MISSING: the key does not exist. */
export const ST_MISSING = 2;
/** ST_ERROR: a JSON WireError follows. */
export const ST_ERROR = 3;
/** ST_CONFLICT: a condition failed; seq is the key's current version seq (0 = missing). */
export const ST_CONFLICT = 4;

/** REQUEST_HEADER_BYTES is the size of a request before its key and value. */
export const REQUEST_HEADER_BYTES = 4 + 1 + 2 + 2 + 4 + 1 + 4;
/** REPLY_HEADER_BYTES is the size of a reply before its value. */
export const REPLY_HEADER_BYTES = 4 + 1 + 8 + 4;

/** OpCode is one of the OP_ constants. */
export type OpCode =
  | typeof OP_GET
  | typeof OP_PUT
  | typeof OP_DELETE
  | typeof OP_INCR
  | typeof OP_SET_IF
  | typeof OP_DELETE_COUNTED
  | typeof OP_WAIT
  | typeof OP_PUT_EXT
  | typeof OP_DELETE_EXT
  | typeof OP_TXN
  | typeof OP_GET_EXPIRY
  | typeof OP_EDIT;
/** ReplyStatus is one of the ST_ constants. */
export type ReplyStatus =
  typeof ST_VALUE | typeof ST_DONE | typeof ST_MISSING | typeof ST_ERROR | typeof ST_CONFLICT;

/** WriteExt is a decoded ext: conditions and expiry of an _EXT op. */
export interface WriteExt {
  flags: number;
  ifSeq: number;
  expiresAtMs: number;
}

/** encodeExt returns an ext followed by `value` (for OP_PUT_EXT) or alone. */
export function encodeExt(ext: WriteExt, value?: Uint8Array | string): Buffer {
  const v = value === undefined ? undefined : typeof value === 'string' ? Buffer.from(value) : value;
  const b = Buffer.allocUnsafe(EXT_BYTES + (v?.length ?? 0));
  b[0] = ext.flags;
  b.writeDoubleLE(ext.ifSeq, 1);
  b.writeDoubleLE(ext.expiresAtMs, 9);
  if (v !== undefined) b.set(v, EXT_BYTES);
  return b;
}

/** Edit is a decoded OP_EDIT request. */
export interface Edit {
  kind: number;
  limit: number;
  atMs: number;
  arg: Uint8Array;
}

/** encodeEdit returns the value of an OP_EDIT request. */
export function encodeEdit(edit: Edit): Buffer {
  const b = Buffer.allocUnsafe(EDIT_HEADER_BYTES + edit.arg.length);
  b[0] = edit.kind;
  b.writeUInt32LE(edit.limit, 1);
  b.writeDoubleLE(edit.atMs, 5);
  b.set(edit.arg, EDIT_HEADER_BYTES);
  return b;
}

/** decodeEdit reads an OP_EDIT request's value (arg is a view into it); throws when it is shorter than its header. */
export function decodeEdit(b: Uint8Array): Edit {
  if (b.length < EDIT_HEADER_BYTES)
    throw new Error(`edit is ${b.length} bytes; expected at least ${EDIT_HEADER_BYTES}`);
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
  return {
    kind: buf[0]!,
    limit: buf.readUInt32LE(1),
    atMs: buf.readDoubleLE(5),
    arg: buf.subarray(EDIT_HEADER_BYTES),
  };
}

/** decodeExt reads the ext at the start of an _EXT op's value; throws when it is shorter. */
export function decodeExt(b: Uint8Array): WriteExt {
  if (b.length < EXT_BYTES) throw new Error(`ext is ${b.length} bytes; expected at least ${EXT_BYTES}`);
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
  return { flags: buf[0]!, ifSeq: buf.readDoubleLE(1), expiresAtMs: buf.readDoubleLE(9) };
}

/** SetIf is a decoded OP_SET_IF request: its SET_IF_ flags, expiry (0 = none or kept) and value. */
export interface SetIf {
  flags: number;
  expiresAtMs: number;
  value: Uint8Array;
}

/** encodeSetIf returns the value of an OP_SET_IF request (SET_IF_EXPIRES is set when expiresAtMs is not 0). */
export function encodeSetIf(flags: number, value: Uint8Array, expiresAtMs = 0): Buffer {
  const head = expiresAtMs === 0 ? 1 : 9;
  const b = Buffer.allocUnsafe(head + value.length);
  b[0] = expiresAtMs === 0 ? flags : flags | SET_IF_EXPIRES;
  if (expiresAtMs !== 0) b.writeDoubleLE(expiresAtMs, 1);
  b.set(value, head);
  return b;
}

/** decodeSetIf reads an OP_SET_IF request's value (value is a view into it); throws when it is shorter than its header. */
export function decodeSetIf(b: Uint8Array): SetIf {
  const flags = b[0] ?? 0;
  const head = flags & SET_IF_EXPIRES ? 9 : 1;
  if (b.length < head) throw new Error(`set-if is ${b.length} bytes; expected at least ${head}`);
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
  return { flags, expiresAtMs: head === 9 ? buf.readDoubleLE(1) : 0, value: buf.subarray(head) };
}

/** TxnSub is one write of an OP_TXN: OP_PUT_EXT or OP_DELETE_EXT, its key and its ext (+ value). */
export interface TxnSub {
  op: typeof OP_PUT_EXT | typeof OP_DELETE_EXT;
  key: Uint8Array;
  value: Uint8Array;
}

/** encodeTxn returns the value of an OP_TXN request. */
export function encodeTxn(subs: readonly TxnSub[]): Buffer {
  const size = subs.reduce((n, s) => n + TXN_SUB_HEADER_BYTES + s.key.length + s.value.length, 2);
  const b = Buffer.allocUnsafe(size);
  b.writeUInt16LE(subs.length, 0);
  let p = 2;
  for (const s of subs) {
    b[p] = s.op;
    b.writeUInt16LE(s.key.length, p + 1);
    b.writeUInt32LE(s.value.length, p + 3);
    b.set(s.key, p + TXN_SUB_HEADER_BYTES);
    b.set(s.value, p + TXN_SUB_HEADER_BYTES + s.key.length);
    p += TXN_SUB_HEADER_BYTES + s.key.length + s.value.length;
  }
  return b;
}

/** decodeTxn reads the value of an OP_TXN request (views into it); throws when it is malformed. */
export function decodeTxn(value: Uint8Array): TxnSub[] {
  const b = Buffer.from(value.buffer, value.byteOffset, value.length);
  if (b.length < 2) throw new Error('txn is shorter than its count');
  const subs: TxnSub[] = [];
  let p = 2;
  for (let i = b.readUInt16LE(0); i > 0; i--) {
    if (p + TXN_SUB_HEADER_BYTES > b.length) throw new Error('txn ends inside a sub-op header');
    const op = b[p];
    const keyLen = b.readUInt16LE(p + 1);
    const valueLen = b.readUInt32LE(p + 3);
    const k = p + TXN_SUB_HEADER_BYTES;
    if (k + keyLen + valueLen > b.length) throw new Error('txn ends inside a sub-op');
    if (op !== OP_PUT_EXT && op !== OP_DELETE_EXT)
      throw new Error(`txn sub-op ${op} is not a PUT_EXT or DELETE_EXT`);
    subs.push({ op, key: b.subarray(k, k + keyLen), value: b.subarray(k + keyLen, k + keyLen + valueLen) });
    p = k + keyLen + valueLen;
  }
  return subs;
}
