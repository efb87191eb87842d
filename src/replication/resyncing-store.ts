/**
 * ResyncingStore stands in for a replica store while it is rebuilt from its leader's snapshot
 * (follower.ts): every read and write answers UNAVAILABLE, and /stats says it is resyncing. It has
 * no replication seam, so nothing replicates into it either.
 */
import { DistkvError } from '../errors.js';
import type { Store, StoreEntry, StoreStats, StoreValue, WriteResult } from '../storage/store.js';

/** ResyncingStore is the placeholder of a replica store being rebuilt. */
export class ResyncingStore implements Store {
  readonly engine = 'lsm';
  private fail(): never {
    throw new DistkvError(
      'UNAVAILABLE',
      'this replica is being rebuilt from a leader snapshot; read from the leader',
    );
  }
  get(): Uint8Array | undefined {
    return this.fail();
  }
  read(): StoreValue | undefined {
    return this.fail();
  }
  put(): Promise<WriteResult> {
    return this.fail();
  }
  delete(): Promise<WriteResult> {
    return this.fail();
  }
  expire(): Promise<WriteResult> {
    return this.fail();
  }
  scan(): StoreEntry[] {
    return this.fail();
  }
  lastSeq(): number {
    return 0;
  }
  stats(): StoreStats {
    return { engine: 'lsm', keys: 0, bytes: 0, lastSeq: 0, replicaResyncing: 1 };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
