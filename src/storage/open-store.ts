/**
 * openStore: the one place that maps `storage.engine` to a Store implementation.
 */
import type { StorageEngine } from '../config/schema.js';
import { LmdbStore } from './lmdb-store.js';
import { MemoryStore } from './memory-store.js';
import type { Store, StoreOptions } from './store.js';

/** openStore opens (creating if needed) a store of the given engine. */
export function openStore(engine: StorageEngine, options: StoreOptions): Store {
  switch (engine) {
    case 'lmdb':
      return new LmdbStore(options);
    case 'memory':
      return new MemoryStore();
  }
}
