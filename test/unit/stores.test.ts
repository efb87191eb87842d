import { LmdbStore } from '../../src/storage/lmdb-store.js';
import { MemoryStore } from '../../src/storage/memory-store.js';
import { openTestLsm } from '../helpers/lsm.js';
import { storeConformance } from './store-conformance.js';

storeConformance('MemoryStore', () => new MemoryStore(), false);
storeConformance(
  'LmdbStore (fsync)',
  (dir) => new LmdbStore({ dir, durability: 'fsync', fsyncIntervalMs: 100 }),
  true,
);
storeConformance(
  'LmdbStore (interval)',
  (dir) => new LmdbStore({ dir, durability: 'interval', fsyncIntervalMs: 20 }),
  true,
);
storeConformance(
  'LsmStore (small memtable: flushes and compactions)',
  (dir) => openTestLsm(dir, { memtableBytes: 2048, maxRuns: 2 }),
  true,
);
storeConformance('LsmStore (interval)', (dir) => openTestLsm(dir, { durability: 'interval' }), true);
