/**
 * Purge (`GET /purge`, docs/api.md): after a config change, delete from each store the keys whose
 * slot now lies outside its shard's range. It pages through each store in key order, PURGE_CHUNK
 * keys at a time, and deletes the foreign keys of each page (ordinary deletes: logged, replicated)
 * before reading the next, so a large store is purged without holding it all in memory.
 */
import { slotOfBytes } from '../routing/slot.js';
import type { HostedStore } from '../replication/replication-host.js';

/** PURGE_CHUNK is how many keys one page of a purge reads. */
const PURGE_CHUNK = 1000;

/** purgeForeignKeys deletes, in every store of `stores`, the keys outside its shard's slots; it returns how many. */
export async function purgeForeignKeys(stores: Iterable<HostedStore>): Promise<number> {
  let deleted = 0;
  for (const { spec, store } of stores) {
    let after: Uint8Array | undefined;
    for (;;) {
      const page = store.scan(new Uint8Array(0), after, PURGE_CHUNK);
      if (page.length === 0) break;
      const doomed = page.filter(({ key }) => {
        const slot = slotOfBytes(key);
        return slot < spec.shard.first || slot > spec.shard.last;
      });
      after = Uint8Array.prototype.slice.call(page[page.length - 1]!.key);
      await Promise.all(doomed.map(({ key }) => store.delete(Uint8Array.prototype.slice.call(key))));
      deleted += doomed.length;
    }
  }
  return deleted;
}
