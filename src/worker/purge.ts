/**
 * Purge (`GET /purge`, docs/api.md): after a config change, delete from each store the keys whose
 * slot now lies outside its shard's range. It pages through each store in key order, PURGE_CHUNK
 * keys or SCAN_PAGE_BYTES of keys and values at a time, whichever comes first (a page copies the
 * values it visits: 1000 values of 1 MiB made a page of 1 GiB), and deletes the foreign keys of
 * each page before reading the next, so a large store is purged without holding it all in memory.
 *
 * Only leaders purge, and their deletes are client writes of the store (StoreWrites.ownWrite):
 * refused while a fence holds the store (SWITCHING_LEADER), seen by reads and read-modify-writes
 * while in flight, waited for by a fence, logged and replicated. A replica deletes nothing itself:
 * its leader's deletes reach it by replication, and a record of its own would take the seqs its
 * leader gives other writes; pulling after its last seq, it would never receive those.
 */
import { slotOfBytes } from '../routing/slot.js';
import type { HostedStore } from '../replication/replication-host.js';
import { SCAN_PAGE_BYTES } from '../storage/store.js';
import type { StoreWrites } from './store-writes.js';

/** PURGE_CHUNK is how many keys one page of a purge reads. */
const PURGE_CHUNK = 1000;

/**
 * purgeForeignKeys deletes, in every leader store of `hosted`, the keys outside its shard's slots,
 * through `writes`; it returns how many. A store that stops leading (or is reopened) while it is
 * purged is left at the page it reached.
 */
export async function purgeForeignKeys(
  hosted: Map<number, HostedStore>,
  writes: StoreWrites,
): Promise<number> {
  let deleted = 0;
  for (const [index, { spec, store }] of [...hosted]) {
    if (spec.role !== 'leader') continue;
    let after: Uint8Array | undefined;
    for (;;) {
      const now = hosted.get(index);
      if (now?.store !== store || now.spec.role !== 'leader') break;
      const { first, last } = now.spec.shard;
      const page = store.scan(new Uint8Array(0), after, PURGE_CHUNK, SCAN_PAGE_BYTES);
      if (page.length === 0) break;
      const doomed = page
        .filter(({ key }) => {
          const slot = slotOfBytes(key);
          return slot < first || slot > last;
        })
        .map(({ key }) => Uint8Array.prototype.slice.call(key));
      after = Uint8Array.prototype.slice.call(page[page.length - 1]!.key);
      // Issued in one synchronous step: a fence refuses the whole page or waits for all of it.
      await Promise.all(doomed.map((key) => writes.ownWrite(index, store, key, null)));
      deleted += doomed.length;
    }
  }
  return deleted;
}
