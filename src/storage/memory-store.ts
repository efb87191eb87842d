/**
 * MemoryStore: the in-memory twin of the Store seam. Nothing is persisted; writes resolve on the
 * next microtask. Used by unit tests and by `storage.engine = "memory"`.
 */
import { DistkvError } from '../errors.js';
import { hasPrefix, latin1Key } from '../util/bytes.js';
import type { Store, StoreEntry, StoreStats, WriteResult } from './store.js';

/** MemoryStore keeps every key in a Map (keys as latin1 strings, so string order is byte order). */
export class MemoryStore implements Store {
  readonly engine = 'memory';
  private readonly map = new Map<string, Uint8Array>();
  private seq = 0;
  private bytes = 0;
  private closed = false;

  get(key: Uint8Array): Uint8Array | undefined {
    return this.map.get(latin1Key(key));
  }

  put(key: Uint8Array, value: Uint8Array): Promise<WriteResult> {
    this.checkOpen();
    const k = latin1Key(key);
    const old = this.map.get(k);
    this.bytes += value.length - (old?.length ?? -key.length);
    this.map.set(k, Uint8Array.prototype.slice.call(value));
    return Promise.resolve({ seq: ++this.seq });
  }

  delete(key: Uint8Array): Promise<WriteResult> {
    this.checkOpen();
    const k = latin1Key(key);
    const old = this.map.get(k);
    if (old !== undefined) {
      this.bytes -= old.length + key.length;
      this.map.delete(k);
    }
    return Promise.resolve({ seq: ++this.seq });
  }

  scan(prefix: Uint8Array, after: Uint8Array | undefined, limit: number): StoreEntry[] {
    const afterKey = after === undefined ? undefined : latin1Key(after);
    const keys = [...this.map.keys()].filter((k) => afterKey === undefined || k > afterKey).sort();
    const out: StoreEntry[] = [];
    for (const k of keys) {
      if (out.length >= limit) break;
      const key = Buffer.from(k, 'latin1');
      if (hasPrefix(key, prefix)) out.push({ key, value: this.map.get(k)! });
    }
    return out;
  }

  lastSeq(): number {
    return this.seq;
  }

  stats(): StoreStats {
    // Its memory is its Map: the keys and values it holds (docs/operations.md, "Memory").
    return {
      engine: this.engine,
      keys: this.map.size,
      bytes: this.bytes,
      lastSeq: this.seq,
      memBytes: this.bytes,
    };
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private checkOpen(): void {
    if (this.closed) throw new DistkvError('UNAVAILABLE', 'store is closed');
  }
}
