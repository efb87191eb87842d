/**
 * openStore: the one place that maps `storage.engine` to a Store implementation.
 */
import type { Logger } from 'pino';
import { DEFAULTS, type StorageEngine } from '../config/schema.js';
import { LmdbStore } from './lmdb-store.js';
import { openLsmStore } from './lsm-recovery.js';
import type { LsmOptions } from './lsm-options.js';
import { MemoryStore } from './memory-store.js';
import { RealVfs } from './real-vfs.js';
import type { LsmTuning, Store, StoreOptions } from './store.js';
import type { Vfs } from './vfs.js';

/** OpenStoreOptions are StoreOptions plus the LSM settings, `repair` and a logger. */
export interface OpenStoreOptions extends StoreOptions {
  lsm: LsmTuning;
  repair: boolean;
  log?: Logger;
}

/** lsmOptionsOf maps OpenStoreOptions to the LSM engine's options (on `vfs`, by default the real file system). */
export function lsmOptionsOf(options: OpenStoreOptions, vfs: Vfs = new RealVfs()): LsmOptions {
  return {
    dir: options.dir,
    durability: options.durability,
    fsyncIntervalMs: options.fsyncIntervalMs,
    vfs,
    ...options.lsm,
    blockCacheBytes: options.lsm.blockCacheBytes ?? DEFAULTS.storage.block_cache_bytes,
    repair: options.repair,
    ...(options.log === undefined ? {} : { log: options.log }),
    ...(options.onDirLost === undefined ? {} : { onDirLost: options.onDirLost }),
  };
}

/**
 * openStore opens (recovering or creating) a store of the given engine; an lsm store gets a commit
 * log of its own (a worker opens its lsm stores over one shared log: lsm-recovery.ts).
 */
export async function openStore(engine: StorageEngine, options: OpenStoreOptions): Promise<Store> {
  switch (engine) {
    case 'lsm':
      return openLsmStore(lsmOptionsOf(options));
    case 'lmdb':
      return Promise.resolve(new LmdbStore(options));
    case 'memory':
      return Promise.resolve(new MemoryStore());
  }
}
