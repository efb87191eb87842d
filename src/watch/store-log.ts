/**
 * The one place the watch feature touches a store's log (docs/watch.md, "Where events come from"):
 * the per-store log API every helper agreed on — `readLog(after, maxBytes)`, `oldestLogSeq()`,
 * `waitForLog(after, ms)` — and the decoding of the records it returns. Whatever stands behind that
 * API (a WAL per store today, one commit log per worker later), only this file follows it.
 *
 * The worker side (`logOf`) runs on the store's thread; `decodeLog` runs on the main thread, on
 * the bytes the worker copied out.
 */
import { DistkvError } from '../errors.js';
import type { Store } from '../storage/store.js';
import {
  newRecordView,
  TYPE_DELETE,
  TYPE_EXPIRE,
  TYPE_PUT,
  TYPE_PUT_TTL,
  viewRecord,
} from '../storage/wal-format.js';
import type { TailResult } from '../storage/wal-tail.js';

/** StoreLog is the agreed per-store log API. */
export interface StoreLog {
  readLog(after: number, maxBytes: number): TailResult;
  oldestLogSeq(): number;
  waitForLog(after: number, ms: number): Promise<void>;
}

/** logOf returns the log API of `store`, or throws when its engine keeps no log (memory, lmdb). */
export function logOf(store: Store): StoreLog {
  if (store.replication !== undefined) return store.replication;
  const s = store as Partial<StoreLog> & Store;
  if (
    typeof s.readLog !== 'function' ||
    typeof s.waitForLog !== 'function' ||
    typeof s.oldestLogSeq !== 'function'
  )
    throw new DistkvError(
      'BAD_REQUEST',
      `watch needs a store with a log; the ${store.engine} engine keeps none`,
    );
  return s as StoreLog;
}

/** EventKind is what a log record means to a watcher. */
export type EventKind = 'put' | 'delete' | 'expire';

/**
 * LogRecord is one decoded record: its key's exact bytes (a key need not be UTF-8: RESP and
 * `/kv/%FF...` write any bytes) and a put's value bytes, both views into the buffer decodeLog was
 * given (each read's own copy, whose records are encoded in the turn it is read).
 */
export interface LogRecord {
  kind: EventKind;
  seq: number;
  key: Buffer;
  value: Buffer | undefined;
}

/**
 * decodeLog decodes a batch of records (as `readLog` returns them). The record types follow
 * docs/wal-format.md: a put, a delete, and (with TTL) a put carrying an expiry and the leader's
 * ordered delete of an expired key; any other type, or a record whose framing does not hold, is
 * refused as corruption. Checksums are not checked again here: every record `readLog` returns
 * was checked on the store's thread, either because that thread wrote it (the recent records
 * kept in memory, src/storage/wal-tail.ts) or because it checked it when it read it back from
 * the commit log (src/storage/commit-log-cursor.ts), and the bytes crossed to this thread as a
 * copy in memory. One check per record and watched store was most of this function's time.
 */
export function decodeLog(buf: Buffer): LogRecord[] {
  const out: LogRecord[] = [];
  const v = newRecordView();
  for (let offset = 0; offset < buf.length;) {
    const damage = viewRecord(buf, offset, v, false);
    if (damage !== undefined)
      throw new DistkvError('CORRUPTION', `watch: log batch at offset ${offset}: ${damage}`);
    offset = v.end;
    const key = buf.subarray(v.keyStart, v.keyEnd);
    const type: number = v.type;
    if (type === TYPE_PUT || type === TYPE_PUT_TTL)
      out.push({ kind: 'put', seq: v.seq, key, value: buf.subarray(v.valueStart, v.end) });
    else if (type === TYPE_DELETE) out.push({ kind: 'delete', seq: v.seq, key, value: undefined });
    else if (type === TYPE_EXPIRE) out.push({ kind: 'expire', seq: v.seq, key, value: undefined });
    else throw new DistkvError('CORRUPTION', `watch: unknown record type ${type} at seq ${v.seq}`);
  }
  return out;
}
