/**
 * MemoryReplication: the in-memory twin of a store's replication seam (store-replication.ts), a
 * MemoryStore (memory-store.ts) over a MemoryLog (memory-log.ts). Replication tests run leaders
 * and replicas of it without files; test/unit/store-replication.test.ts holds it to the same
 * conformance suite as the LSM store. Nothing is persisted, so `epochRecovered` is always false
 * and its history id lives as long as the object.
 */
import { DistkvError } from '../errors.js';
import type { MemoryLog } from './memory-log.js';
import type { LogListener } from './replication-log.js';
import type { StoreEntry } from './store.js';
import { entrySeq, type SnapshotEntry, type StoreReplication } from './store-replication.js';
import { type DecodedRecord, decodeRecord, putValueOf } from './wal-format.js';
import type { TailResult } from './wal-tail.js';

/** MemoryWrites are the parts of its MemoryStore the twin writes through. */
export interface MemoryWrites {
  lastSeq(): number;
  scan(prefix: Uint8Array, after: Uint8Array | undefined, limit: number, maxBytes?: number): StoreEntry[];
  /** setLastSeq makes `seq` the store's last seq (a snapshot's, once loaded). */
  setLastSeq(seq: number): void;
  /** applyAt applies a write (value null = delete) with the given seq, which becomes the store's last. */
  applyAt(key: Uint8Array, seq: number, value: Uint8Array | null, expiresAtMs: number): void;
}

/** MemoryReplication is the StoreReplication of one MemoryStore with a log. */
export class MemoryReplication implements StoreReplication {
  readonly epochRecovered = false;
  epoch = 0;
  history: string | undefined;
  private readonly store: MemoryWrites;
  private readonly log: MemoryLog;

  constructor(store: MemoryWrites, log: MemoryLog) {
    this.store = store;
    this.log = log;
  }

  lastSeq(): number {
    return this.store.lastSeq();
  }

  scan(prefix: Uint8Array, after: Uint8Array | undefined, limit: number, maxBytes?: number): StoreEntry[] {
    return this.store.scan(prefix, after, limit, maxBytes);
  }

  setHistory(id: string): void {
    this.history = id;
  }

  readLog(after: number, maxBytes: number): TailResult {
    return this.log.readLog(after, maxBytes);
  }

  oldestLogSeq(): number {
    return this.log.oldestLogSeq();
  }

  onLog(listener: LogListener): void {
    this.log.onLog(listener);
  }

  waitForLog(after: number, ms: number): Promise<void> {
    return this.log.waitForLog(after, ms);
  }

  setRetention(hook: () => number | undefined): void {
    this.log.setRetention(hook);
  }

  applyReplicated(records: Buffer, epoch?: number): Promise<number> {
    const decoded: DecodedRecord[] = [];
    for (let offset = 0; offset < records.length;) {
      const r = decodeRecord(records, offset);
      if (typeof r === 'string')
        return Promise.reject(new DistkvError('CORRUPTION', `replication batch at offset ${offset}: ${r}`));
      decoded.push(r);
      offset += r.size;
    }
    const first = decoded[0];
    if (first === undefined) return Promise.resolve(this.store.lastSeq());
    if (first.seq !== this.store.lastSeq() + 1)
      return Promise.reject(
        new DistkvError(
          'INTERNAL',
          `log append out of order: got seq ${first.seq}, next is ${this.store.lastSeq() + 1}`,
        ),
      );
    if (epoch !== undefined) this.epoch = epoch;
    const last = this.log.append(records);
    for (const r of decoded) this.store.applyAt(r.key, r.seq, putValueOf(r), r.expiresAtMs);
    return Promise.resolve(last);
  }

  loadSnapshotChunk(entries: readonly SnapshotEntry[], seq: number): Promise<void> {
    if (this.store.lastSeq() > 0 && this.store.lastSeq() !== seq)
      return Promise.reject(new DistkvError('INTERNAL', 'a snapshot loads only into an empty store'));
    for (const e of entries) this.store.applyAt(e.key, entrySeq(e, seq), e.value, e.expiresAtMs ?? 0);
    return Promise.resolve();
  }

  finishSnapshot(seq: number): Promise<void> {
    this.store.setLastSeq(seq);
    this.log.startAfter(seq);
    return Promise.resolve();
  }
}
