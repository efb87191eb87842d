/**
 * The worker side of watch (docs/watch.md): it answers the main thread's questions about its
 * stores, on their own thread, through the agreed log API (store-log.ts):
 *  - `watch-read`: the records after seq `after` (waiting up to `waitMs` for one to be written), or
 *    that the log no longer holds them (`gone`);
 *  - `watch-polls`: `watch-read` for several stores at once (the feeds' polls of one turn,
 *    log-polls.ts), answered when the first of them has a record;
 *  - `watch-scan`: one page of the live keys under a prefix (bounded in entries and in bytes), with
 *    their values unless it asks for keys only, and the store's seq at that instant.
 * Once the process stops (`end-watch`, src/util/stop-wakes.ts) a read's wait ends at once, and later ones do
 * not wait: the stop waits for every call in flight, and the streams have ended already.
 *
 * Nothing is pushed and nothing is registered in the store: a watched store costs one long-poll per
 * process (the main thread's feed), however many watchers there are, so writers never wait for a
 * watcher. Everything read is durable: the log holds only records written (and synced in fsync
 * mode), and a store applies a write to what scans see only once it is.
 */
import { scanOwnSlots, type SlotRange } from '../storage/own-slots.js';
import { scanPageFull, type Store } from '../storage/store.js';
import { DistkvError, toDistkvError } from '../errors.js';
import type { FromWorker, ToWorker, WatchPollAnswer } from '../worker/messages.js';
import { logOf, type StoreLog } from './store-log.js';
import { StopWakes } from '../util/stop-wakes.js';

type ReadMsg = Extract<ToWorker, { type: 'watch-read' }>;
type PollsMsg = Extract<ToWorker, { type: 'watch-polls' }>;
type ScanMsg = Extract<ToWorker, { type: 'watch-scan' }>;
type ReadAnswer = Extract<WatchPollAnswer, { ok: true }>;

const NO_VALUE = new Uint8Array(0);

/**
 * watchRead answers a `watch-read` message for `store`; its wait ends with the stop (`end`: the
 * worker's; a caller without a stop, such as a test, leaves it out).
 */
export async function watchRead(store: Store, msg: ReadMsg, end = new StopWakes()): Promise<FromWorker> {
  const log = logOf(store);
  if (msg.waitMs > 0 && !end.ended) await end.parked(log.waitForLog(msg.after, msg.waitMs));
  return { type: 'watch-read-result', id: msg.id, ...readNow(store, log, msg.after, msg.maxBytes) };
}

/**
 * watchPolls answers a `watch-polls` message: it waits until one of its stores has a record after
 * its read's `after` (or `waitMs`), then reads each store as `watchRead` does, in one answer. A read
 * that cannot be made (its store is not open here, keeps no log) is answered with its error at once,
 * and the others with what they hold then. The wait ends with the stop (`end`, as watchRead's).
 */
export async function watchPolls(
  storeAt: (index: number) => Store,
  msg: PollsMsg,
  end = new StopWakes(),
): Promise<FromWorker> {
  const logs: ({ store: Store; log: StoreLog } | DistkvError)[] = msg.reads.map((r) => {
    try {
      const store = storeAt(r.store);
      return { store, log: logOf(store) };
    } catch (err) {
      return toDistkvError(err);
    }
  });
  // Wait only when no read can be answered with records now. A read that fails is answered at
  // once, and the others with it. (A wait that another store's record ends stays registered in its
  // own store until that store's next record or `waitMs`: so none is made under load.)
  const now = logs.some((l, i) => l instanceof DistkvError || l.store.lastSeq() > msg.reads[i]!.after);
  if (msg.waitMs > 0 && logs.length > 0 && !now && !end.ended)
    await end.parked(
      Promise.race(
        logs.map((l, i) =>
          l instanceof DistkvError ? Promise.resolve() : l.log.waitForLog(msg.reads[i]!.after, msg.waitMs),
        ),
      ),
    );
  const answers = logs.map((l, i): WatchPollAnswer => {
    try {
      if (l instanceof DistkvError) throw l;
      const r = msg.reads[i]!;
      return readNow(l.store, l.log, r.after, r.maxBytes);
    } catch (err) {
      return { ok: false, error: toDistkvError(err).toWire() };
    }
  });
  return { type: 'watch-polls-result', id: msg.id, ok: true, answers };
}

/** readNow reads `store`'s log after `after` as it stands (a copy of its records, at most about `maxBytes`). */
function readNow(store: Store, log: StoreLog, after: number, maxBytes: number): ReadAnswer {
  const r = log.readLog(after, maxBytes);
  const end = store.lastSeq();
  // The epoch of the store's newest records: the main thread reads no store holding history the
  // live map says a failover discarded (src/watch/forked-store.ts).
  const epoch = store.replication === undefined ? {} : { epoch: store.replication.epoch };
  // A position past the store's end means the store was rebuilt or cut back: the watcher's state
  // cannot be continued, only replaced (a snapshot), like a log that no longer holds it.
  const gone = r === 'gone' || (r.records.length === 0 && after > end);
  if (gone || r.records.length === 0)
    return { ok: true, gone, buffer: null, length: 0, lastSeq: after, end, ...epoch };
  const buffer = Uint8Array.prototype.slice.call(r.records).buffer;
  return { ok: true, gone: false, buffer, length: r.records.length, lastSeq: r.lastSeq, end, ...epoch };
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
