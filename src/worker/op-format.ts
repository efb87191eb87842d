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
 *   op            := OP_GET | OP_PUT | OP_DELETE
 *   reply-batch   := VERSION:u8 reply*
 *   reply         := id:u32 status:u8 seq:f64 valueLen:u32 value:valueLen
 *   status        := ST_VALUE   (value = the stored bytes)
 *                  | ST_DONE    (a write is durable; seq = its sequence number)
 *                  | ST_MISSING (no such key; for a delete: durable like ST_DONE, the key did not exist)
 *                  | ST_ERROR   (value = UTF-8 JSON {"code","message"}, a WireError)
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
export type OpCode = typeof OP_GET | typeof OP_PUT | typeof OP_DELETE;
/** ReplyStatus is one of the ST_ constants. */
export type ReplyStatus = typeof ST_VALUE | typeof ST_DONE | typeof ST_MISSING | typeof ST_ERROR;
