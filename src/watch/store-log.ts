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
 * LogView is a LogRecord read where it lies in a batch's bytes: its key and value are views made
 * only when asked for (`key`, `value`). A broadcast's encoder copies the bytes from `bytes` by
 * their offsets and never asks (watch-binary-format.ts `changeFrames`), which saves the two views
 * per record a busy broadcast spent most of its decoding on (docs/performance.md, session 38's
 * "Watch" section).
 */
export class LogView implements LogRecord {
  readonly kind: EventKind;
  readonly seq: number;
  /** bytes is the batch's buffer; the key is bytes[keyStart, keyEnd), a put's value bytes[valueStart, valueEnd). */
  readonly bytes: Buffer;
  readonly keyStart: number;
  readonly keyEnd: number;
  readonly valueStart: number;
  /** valueEnd is -1 for a record without a value (delete, expire). */
  readonly valueEnd: number;
  private keyView: Buffer | undefined = undefined;
  private valueView: Buffer | undefined = undefined;

  constructor(
    kind: EventKind,
    seq: number,
    bytes: Buffer,
    keyStart: number,
    keyEnd: number,
    valueStart: number,
    valueEnd: number,
  ) {
    this.kind = kind;
    this.seq = seq;
    this.bytes = bytes;
    this.keyStart = keyStart;
    this.keyEnd = keyEnd;
    this.valueStart = valueStart;
    this.valueEnd = valueEnd;
  }

  get key(): Buffer {
    return (this.keyView ??= this.bytes.subarray(this.keyStart, this.keyEnd));
  }

  get value(): Buffer | undefined {
    if (this.valueEnd < 0) return undefined;
    return (this.valueView ??= this.bytes.subarray(this.valueStart, this.valueEnd));
  }
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
    const type: number = v.type;
    let kind: EventKind;
    if (type === TYPE_PUT || type === TYPE_PUT_TTL) kind = 'put';
    else if (type === TYPE_DELETE) kind = 'delete';
    else if (type === TYPE_EXPIRE) kind = 'expire';
    else throw new DistkvError('CORRUPTION', `watch: unknown record type ${type} at seq ${v.seq}`);
    const valueEnd = kind === 'put' ? v.end : -1;
    out.push(new LogView(kind, v.seq, buf, v.keyStart, v.keyEnd, v.valueStart, valueEnd));
  }
  return out;
}
