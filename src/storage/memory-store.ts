/**
 * MemoryStore: the in-memory twin of the Store seam. Nothing is persisted; writes resolve on the
 * next microtask. Used by unit tests and by `storage.engine = "memory"`. Expired values stay in
 * the map until an expire or a later write replaces them; reads hide them by the clock.
 * Given a MemoryLog, it also logs every write (WAL framing) and replicates through it
 * (`replication`, memory-replication.ts), the in-memory twin of a replicating store.
 */
import { DistkvError } from '../errors.js';
import { hasPrefix, latin1Key } from '../util/bytes.js';
import type { MemoryLog } from './memory-log.js';
import { MemoryReplication } from './memory-replication.js';
import {
  entryBytes,
  type ExpiringPage,
  type Store,
  type StoreEntry,
  type StoreStats,
  type StoreValue,
  type WriteResult,
} from './store.js';
import {
  encodeRecord,
  type RecordType,
  recordSize,
  TYPE_DELETE,
  TYPE_EXPIRE,
  TYPE_PUT,
  TYPE_PUT_TTL,
} from './wal-format.js';

/** MemoryStore keeps every key in a Map (keys as latin1 strings, so string order is byte order). */
export class MemoryStore implements Store {
  readonly engine = 'memory';
  private readonly map = new Map<string, StoreValue>();
  private readonly clock: () => number;
  private seq = 0;
  private bytes = 0;
  private closed = false;
  private readonly log: MemoryLog | undefined;
  /** replication is defined when the store has a log. */
  readonly replication: MemoryReplication | undefined;

  /** constructor takes the clock expiries are compared with (default Date.now) and, to replicate, a log. */
  constructor(clock: () => number = Date.now, log?: MemoryLog) {
    this.clock = clock;
    this.log = log;
    this.replication =
      log === undefined
        ? undefined
        : new MemoryReplication(
            {
              lastSeq: () => this.seq,
              scan: (prefix, after, limit, maxBytes) => this.scan(prefix, after, limit, maxBytes),
              applyAt: (key, seq, value, expiresAtMs) => {
                this.applyAt(key, seq, value, expiresAtMs);
              },
              setLastSeq: (seq) => {
                this.seq = seq;
              },
            },
            log,
          );
  }

  get(key: Uint8Array): Uint8Array | undefined {
    return this.read(key)?.value;
  }

  read(key: Uint8Array, nowMs = this.clock()): StoreValue | undefined {
    const v = this.map.get(latin1Key(key));
    return v !== undefined && (v.expiresAtMs === 0 || v.expiresAtMs > nowMs) ? v : undefined;
  }

  put(key: Uint8Array, value: Uint8Array, expiresAtMs = 0): Promise<WriteResult> {
    return this.write(expiresAtMs > 0 ? TYPE_PUT_TTL : TYPE_PUT, key, value, expiresAtMs);
  }

  delete(key: Uint8Array): Promise<WriteResult> {
    return this.write(TYPE_DELETE, key, null, 0);
  }

  expire(key: Uint8Array): Promise<WriteResult> {
    return this.write(TYPE_EXPIRE, key, null, 0);
  }

  scan(prefix: Uint8Array, after: Uint8Array | undefined, limit: number, maxBytes = Infinity): StoreEntry[] {
    const afterKey = after === undefined ? undefined : latin1Key(after);
    const keys = [...this.map.keys()].filter((k) => afterKey === undefined || k > afterKey).sort();
    const out: StoreEntry[] = [];
    const now = this.clock();
    let bytes = 0;
    for (const k of keys) {
      if (out.length >= limit || bytes >= maxBytes) break;
      const key = Buffer.from(k, 'latin1');
      const v = this.read(key, now);
      if (v === undefined || !hasPrefix(key, prefix)) continue;
      const e = { key, ...v };
      out.push(e);
      bytes += entryBytes(e);
    }
    return out;
  }

  expiring(after: Uint8Array | undefined, limit: number): ExpiringPage {
    // Only the expiring keys are visited (and sorted): the Map has no order to page through.
    const afterKey = after === undefined ? undefined : latin1Key(after);
    const keys: string[] = [];
    for (const [k, v] of this.map)
      if (v.expiresAtMs > 0 && (afterKey === undefined || k > afterKey)) keys.push(k);
    keys.sort();
    const entries = keys.slice(0, limit).map((k) => {
      const v = this.map.get(k)!;
      return { key: Buffer.from(k, 'latin1'), seq: v.seq, expiresAtMs: v.expiresAtMs };
    });
    const last = entries[entries.length - 1];
    return { entries, next: keys.length > limit && last !== undefined ? last.key : undefined };
  }

  lastSeq(): number {
    return this.seq;
  }

  stats(): StoreStats {
    // Its memory is its Map: the keys and values it holds (docs/operations.md, "Memory"). It has no
    // files: `bytes` (distkv_store_disk_bytes) is 0, where it gave the Map's bytes as disk.
    return {
      engine: this.engine,
      keys: this.map.size,
      bytes: 0,
      lastSeq: this.seq,
      memBytes: this.bytes,
    };
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private write(
    type: RecordType,
    key: Uint8Array,
    value: Uint8Array | null,
    expiresAtMs: number,
  ): Promise<WriteResult> {
    this.checkOpen();
    const seq = this.seq + 1;
    if (this.log !== undefined) {
      const record = Buffer.allocUnsafe(recordSize(key.length, value?.length ?? 0, type));
      encodeRecord(record, 0, type, seq, key, value ?? undefined, expiresAtMs);
      this.log.append(record);
    }
    this.applyAt(key, seq, value, expiresAtMs);
    return Promise.resolve({ seq });
  }

  /** applyAt applies a write (value null = delete) with `seq`, which becomes the last seq. */
  private applyAt(key: Uint8Array, seq: number, value: Uint8Array | null, expiresAtMs: number): void {
    const k = latin1Key(key);
    const old = this.map.get(k);
    if (value !== null) {
      this.bytes += value.length - (old?.value.length ?? -key.length);
      this.map.set(k, { value: Uint8Array.prototype.slice.call(value), seq, expiresAtMs });
    } else if (old !== undefined) {
      this.bytes -= old.value.length + key.length;
      this.map.delete(k);
    }
    this.seq = seq;
  }

  private checkOpen(): void {
    if (this.closed) throw new DistkvError('UNAVAILABLE', 'store is closed');
  }
}
