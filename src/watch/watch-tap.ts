/**
 * The worker side of watch (docs/watch.md): it answers the main thread's two questions about one
 * store, on the store's own thread, through the agreed log API (store-log.ts):
 *  - `watch-read`: the records after seq `after` (waiting up to `waitMs` for one to be written), or
 *    that the log no longer holds them (`gone`);
 *  - `watch-scan`: one page of the live keys under a prefix (bounded in entries and in bytes), with
 *    their values unless it asks for keys only, and the store's seq at that instant.
 *
 * Nothing is pushed and nothing is registered in the store: a watched store costs one long-poll per
 * process (the main thread's feed), however many watchers there are, so writers never wait for a
 * watcher. Everything read is durable: the log holds only records written (and synced in fsync
 * mode), and a store applies a write to what scans see only once it is.
 */
import { scanOwnSlots, type SlotRange } from '../storage/own-slots.js';
import { scanPageFull, type Store } from '../storage/store.js';
import type { FromWorker, ToWorker } from '../worker/messages.js';
import { logOf } from './store-log.js';

type ReadMsg = Extract<ToWorker, { type: 'watch-read' }>;
type ScanMsg = Extract<ToWorker, { type: 'watch-scan' }>;

const NO_VALUE = new Uint8Array(0);

/** watchRead answers a `watch-read` message for `store`. */
export async function watchRead(store: Store, msg: ReadMsg): Promise<FromWorker> {
  const log = logOf(store);
  if (msg.waitMs > 0) await log.waitForLog(msg.after, msg.waitMs);
  const r = log.readLog(msg.after, msg.maxBytes);
  const end = store.lastSeq();
  // The epoch of the store's newest records: the main thread reads no store holding history the
  // live map says a failover discarded (src/watch/forked-store.ts).
  const epoch = store.replication === undefined ? {} : { epoch: store.replication.epoch };
  // A position past the store's end means the store was rebuilt or cut back: the watcher's state
  // cannot be continued, only replaced (a snapshot), like a log that no longer holds it.
  const gone = r === 'gone' || (r.records.length === 0 && msg.after > end);
  if (gone || r.records.length === 0)
    return {
      type: 'watch-read-result',
      id: msg.id,
      ok: true,
      gone,
      buffer: null,
      length: 0,
      lastSeq: msg.after,
      end,
      ...epoch,
    };
  const buffer = Uint8Array.prototype.slice.call(r.records).buffer;
  return {
    type: 'watch-read-result',
    id: msg.id,
    ok: true,
    gone: false,
    buffer,
    length: r.records.length,
    lastSeq: r.lastSeq,
    end,
    ...epoch,
  };
}

/**
 * watchScan answers a `watch-scan` message: a page of live entries of the shard's slots `range`
 * (src/storage/own-slots.ts) and the seq they are consistent at.
 */
export function watchScan(store: Store, range: SlotRange, msg: ScanMsg): FromWorker {
  const page = scanOwnSlots(store, range, msg.prefix, msg.after ?? undefined, msg.limit, msg.maxBytes);
  // A watch without values sends none: the page's values are neither copied nor sent to the main thread.
  const entries = page.map((e) => ({
    key: Uint8Array.prototype.slice.call(e.key),
    value: msg.keysOnly ? NO_VALUE : Uint8Array.prototype.slice.call(e.value),
  }));
  return {
    type: 'watch-scan-result',
    id: msg.id,
    ok: true,
    entries,
    seq: store.lastSeq(),
    ...(store.replication === undefined ? {} : { epoch: store.replication.epoch }),
    // A page cut by bytes is short but not the end: more may follow its last key.
    last: !scanPageFull(page, msg.limit, msg.maxBytes),
  };
}
