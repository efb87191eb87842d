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
 *   reply-batch   := VERSION:u8 reply*
 *   reply         := id:u32 status:u8 seq:f64 valueLen:u32 value:valueLen
 *   status        := ST_VALUE   (value = the stored bytes)
 *                  | ST_DONE    (a write is durable; seq = its sequence number)
 *                  | ST_MISSING (no such key; for a delete: durable like ST_DONE, the key did not exist)
 *                  | ST_ERROR   (value = UTF-8 JSON {"code","message"}, a WireError)
 *
 * The read-modify-write ops run atomically on the store's worker against the newest value written,
 * durable or not (src/worker/pending-writes.ts), and answer once their own write is durable:
 *   OP_INCR           value = the signed decimal delta; reply ST_DONE, value = the new decimal value
 *   OP_SET_IF         value = flags:u8 bytes (SET_IF_ flags); reply ST_DONE when written, ST_MISSING
 *                     when its condition kept it from being written; either way value = old
 *   OP_DELETE_COUNTED reply ST_DONE, value = old (a missing key is not written at all)
 *   old               := 0x00 (the key was missing) | 0x01 bytes (its value before)
 *   OP_WAIT           value = seq:f64, waits like a `w` write for seq; reply ST_DONE, seq = the
 *                     number of replicas holding seq (even when fewer than w, after timeoutMs)
 *
 * `id` is chosen by the main thread and echoed back; `store` is the process-wide store index; a
 * write with `w` > 0 is answered only once `w` replicas acknowledged it, or with REPLICATION_TIMEOUT
 * after `timeoutMs`.
 */

/** OP_VERSION is the format version byte at the start of every batch. */
export const OP_VERSION = 2;

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
/** OP_WAIT waits until replicas acknowledge a seq of the store. */
export const OP_WAIT = 7;

/** SET_IF_ flags of OP_SET_IF: NX = only if missing, XX = only if present. */
export const SET_IF_NX = 1;
export const SET_IF_XX = 2;

/** ST_VALUE: the key's value follows. */
export const ST_VALUE = 0;
/** ST_DONE: the write is durable. */
export const ST_DONE = 1;
/** ST_MISSING: the key does not exist. */
export const ST_MISSING = 2;
/** ST_ERROR: a JSON WireError follows. */
export const ST_ERROR = 3;

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
  | typeof OP_WAIT;
/** ReplyStatus is one of the ST_ constants. */
export type ReplyStatus = typeof ST_VALUE | typeof ST_DONE | typeof ST_MISSING | typeof ST_ERROR;
