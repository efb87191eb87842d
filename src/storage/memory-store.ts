/**
 * MemoryStore: the in-memory twin of the Store seam. Nothing is persisted; writes resolve on the
 * next microtask. Used by unit tests and by `storage.engine = "memory"`. Expired values stay in
 * the map until an expire or a later write replaces them; reads hide them by the clock.
 */
import { DistkvError } from '../errors.js';
import { hasPrefix, latin1Key } from '../util/bytes.js';
import type { Store, StoreEntry, StoreStats, StoreValue, WriteResult } from './store.js';

/** MemoryStore keeps every key in a Map (keys as latin1 strings, so string order is byte order). */
export class MemoryStore implements Store {
  readonly engine = 'memory';
  private readonly map = new Map<string, StoreValue>();
  private readonly clock: () => number;
  private seq = 0;
  private bytes = 0;
  private closed = false;

  /** constructor takes the clock expiries are compared with (default Date.now). */
  constructor(clock: () => number = Date.now) {
    this.clock = clock;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return this.read(key)?.value;
  }

  read(key: Uint8Array, nowMs = this.clock()): StoreValue | undefined {
    const v = this.map.get(latin1Key(key));
    return v !== undefined && (v.expiresAtMs === 0 || v.expiresAtMs > nowMs) ? v : undefined;
  }

  put(key: Uint8Array, value: Uint8Array, expiresAtMs = 0): Promise<WriteResult> {
    this.checkOpen();
    const k = latin1Key(key);
    const old = this.map.get(k);
    this.bytes += value.length - (old?.value.length ?? -key.length);
    const seq = ++this.seq;
    this.map.set(k, { value: Uint8Array.prototype.slice.call(value), seq, expiresAtMs });
    return Promise.resolve({ seq });
  }

  delete(key: Uint8Array): Promise<WriteResult> {
    this.checkOpen();
    const k = latin1Key(key);
    const old = this.map.get(k);
    if (old !== undefined) {
      this.bytes -= old.value.length + key.length;
      this.map.delete(k);
    }
    return Promise.resolve({ seq: ++this.seq });
  }

  expire(key: Uint8Array): Promise<WriteResult> {
    return this.delete(key);
  }

  scan(prefix: Uint8Array, after: Uint8Array | undefined, limit: number): StoreEntry[] {
    const afterKey = after === undefined ? undefined : latin1Key(after);
    const keys = [...this.map.keys()].filter((k) => afterKey === undefined || k > afterKey).sort();
    const out: StoreEntry[] = [];
    const now = this.clock();
    for (const k of keys) {
      if (out.length >= limit) break;
      const key = Buffer.from(k, 'latin1');
      const v = this.read(key, now);
      if (v !== undefined && hasPrefix(key, prefix)) out.push({ key, ...v });
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
