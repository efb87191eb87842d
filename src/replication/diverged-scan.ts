/**
 * Saving a forked store's keys instead of its log (docs/failover.md, "Divergence files"): when the
 * store's log no longer holds its records above the fork (compacted or flushed away: `readLog`
 * answers 'gone'), what it still holds of them is its live keys whose version (the seq of their
 * last write) is above the fork. Each is written as one put record (TYPE_PUT, or TYPE_PUT_TTL with
 * its expiry) in WAL record framing (docs/wal-format.md) under that seq, so `distkv diverged`
 * prints them as it prints a log's records: a key written several times above the fork appears
 * once, with its last value; a key deleted (or expired) above the fork does not appear at all, and
 * a key whose last write is at or below the fork is not there either.
 *
 * The store is read in pages (`scan`, at most KEYS_PAGE_LIMIT keys or about SCAN_PAGE_BYTES of keys
 * and values each), and the worker's event loop gets a turn between pages: a store of millions of
 * keys is read in seconds, and its worker keeps answering meanwhile (a page of 2000 keys of 100
 * bytes from a memtable: about 1 ms). What was written is synced without holding the
 * worker either (fsync off the thread) before the caller's own fsync and rename. Nothing else
 * writes to the store while it is read: the caller is its follower (stopped or saving before it
 * resyncs).
 */
import { fsync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { promisify } from 'node:util';
import { SCAN_PAGE_BYTES, scanPageFull, type StoreEntry } from '../storage/store.js';
import { encodeRecord, recordSize, TYPE_PUT, TYPE_PUT_TTL } from '../storage/wal-format.js';
import type { StoreReplication } from '../storage/store-replication.js';
import { writeAllSync } from '../util/write-all.js';

/** KEYS_PAGE_LIMIT bounds the keys read in one page (one turn of the worker's event loop). */
export const KEYS_PAGE_LIMIT = 2000;

const EMPTY = new Uint8Array(0);

/**
 * writeKeysAbove writes to `fd` a put record for every live key of `store` whose version is above
 * `fork`, in key order, and returns how many it wrote. At a fork at 0 every live key is written,
 * those of unknown version (seq 0: values kept from before versions) among them.
 */
export async function writeKeysAbove(
  store: Pick<StoreReplication, 'scan'>,
  fd: number,
  fork: number,
): Promise<number> {
  let written = 0;
  let after: Uint8Array | undefined;
  for (;;) {
    const page = store.scan(EMPTY, after, KEYS_PAGE_LIMIT, SCAN_PAGE_BYTES);
    const above = page.filter((e) => e.seq > fork || fork === 0);
    if (above.length > 0) writeAllSync(fd, encodePuts(above));
    written += above.length;
    if (!scanPageFull(page, KEYS_PAGE_LIMIT, SCAN_PAGE_BYTES)) {
      await promisify(fsync)(fd);
      return written;
    }
    after = page[page.length - 1]!.key;
    await nextTurn();
  }
}

/** encodePuts encodes `entries` as put records (with their expiry when they have one), each under its seq. */
function encodePuts(entries: readonly StoreEntry[]): Buffer {
  const typeOf = (e: StoreEntry): typeof TYPE_PUT | typeof TYPE_PUT_TTL =>
    e.expiresAtMs > 0 ? TYPE_PUT_TTL : TYPE_PUT;
  let size = 0;
  for (const e of entries) size += recordSize(e.key.length, e.value.length, typeOf(e));
  const out = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const e of entries)
    offset += encodeRecord(out, offset, typeOf(e), e.seq, e.key, e.value, e.expiresAtMs);
  return out;
}
