/**
 * The seed's replication protocol, kept as a compatibility cursor on a leader's log (design
 * section 4): `/next-replication-key` returns the oldest change after the cursor as
 * `{"key","value"}` and `/delete-replication-key?key&value` moves the cursor past it when it
 * matches. The cursor is persisted in `<store>/seed-cursor` (replaced durably: durable-json.ts),
 * so the seed's own Go replica can follow a distkv leader across restarts.
 *
 * The cursor keeps the epoch of the change it is at (`{"seq":S,"epoch":E}`): a store that leads
 * again after a restart epoch (it lost its unsynced tail and gave those seqs to new writes) or
 * after leading another epoch in between checks (E, S) against its history as a replica's pull
 * is checked (epochs.ts), and moves a cursor above the fork back to it. Kept at S, the seed replica
 * was never offered the new changes at seqs up to S. A cursor file without an epoch (written
 * before it was kept) is taken as on the store's history.
 *
 * The seed never replicated deletes; a delete is offered as the key with an empty value.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { epochOfSeq } from '../routing/version.js';
import type { ReplicationLog } from '../storage/replication-log.js';
import { decodeRecord, putValueOf } from '../storage/wal-format.js';
import { writeDurableJson } from './durable-json.js';
import { ownForkOf, type ShardEpochs } from './epochs.js';

/** SeedChange is the next change a seed replica sees. */
export interface SeedChange {
  key: string;
  value: string;
  seq: number;
}

/** SeedCursor is one leader store's compatibility cursor. */
export class SeedCursor {
  private readonly path: string;
  private seq: number;
  /** epoch is the epoch of the change at `seq` (undefined: a cursor file that did not keep it). */
  private epoch: number | undefined;

  constructor(storeDir: string) {
    this.path = join(storeDir, 'seed-cursor');
    let seq = 0;
    let epoch: number | undefined;
    try {
      const doc = JSON.parse(readFileSync(this.path, 'utf8')) as { seq?: unknown; epoch?: unknown };
      seq = Number(doc.seq) || 0;
      if (Number.isSafeInteger(doc.epoch)) epoch = doc.epoch as number;
    } catch {
      seq = 0;
    }
    this.seq = seq;
    this.epoch = epoch;
  }

  /** position is the seq of the last change the seed replica acknowledged (the log must keep what follows). */
  get position(): number {
    return this.seq;
  }

  /** next returns the first change after the cursor, or undefined when there is none (or the log no longer has it: the cursor then skips to the oldest retained change). */
  next(store: ReplicationLog, epochs: ShardEpochs): SeedChange | undefined {
    const fork = this.epoch === undefined ? undefined : ownForkOf(epochs, this.epoch, this.seq);
    if (fork !== undefined) this.save(fork, epochs);
    let r = store.readLog(this.seq, 64 * 1024);
    if (r === 'gone') {
      // The log moved past the cursor; the seed's protocol has no resync, so continue from what is left.
      const oldest = store.oldestLogSeq();
      this.save(Math.max(this.seq, oldest - 1), epochs);
      r = store.readLog(this.seq, 64 * 1024);
      if (r === 'gone') return undefined;
    }
    if (r.records.length === 0) return undefined;
    const rec = decodeRecord(r.records, 0);
    if (typeof rec === 'string') return undefined;
    return {
      key: rec.key.toString('utf8'),
      value: putValueOf(rec)?.toString('utf8') ?? '',
      seq: rec.seq,
    };
  }

  /** ack moves the cursor past the next change if it is (key, value); returns whether it did. */
  ack(store: ReplicationLog, epochs: ShardEpochs, key: string, value: string): boolean {
    const n = this.next(store, epochs);
    if (n?.key !== key || n.value !== value) return false;
    this.save(n.seq, epochs);
    return true;
  }

  /** save moves the cursor to `seq`, of the epoch `epochs` give it. */
  private save(seq: number, epochs: ShardEpochs): void {
    this.seq = seq;
    this.epoch = epochOfSeq(epochs.history, seq);
    // The directory is synced too: renamed without it, a power cut could bring the old cursor back.
    writeDurableJson(this.path, { seq, epoch: this.epoch });
  }
}

/** SeedLeader is a leading store as its seed cursor reads it: its directory, its log and its epochs (epoch-starts.ts). */
export interface SeedLeader {
  dir: string;
  log: ReplicationLog;
  epochs: ShardEpochs;
}

/**
 * SeedCursors are a worker's seed cursors by leader store index, each made on first use; `leader`
 * returns a leading store's directory and log (it throws for a store that does not lead here).
 */
export class SeedCursors {
  private readonly cursors = new Map<number, SeedCursor>();
  private readonly leader: (index: number) => SeedLeader;

  constructor(leader: (index: number) => SeedLeader) {
    this.leader = leader;
  }

  /** position is store `index`'s cursor position, undefined while the seed never asked for it. */
  position(index: number): number | undefined {
    return this.cursors.get(index)?.position;
  }

  /** next returns the next change across `stores` (leader indexes, shard order). */
  next(stores: readonly number[]): SeedChange | undefined {
    for (const index of stores) {
      const { cursor, log, epochs } = this.of(index);
      const n = cursor.next(log, epochs);
      if (n !== undefined) return n;
    }
    return undefined;
  }

  /** ack acknowledges (key, value) on whichever of `stores` offers it next; returns whether one did. */
  ack(stores: readonly number[], key: string, value: string): boolean {
    for (const index of stores) {
      const { cursor, log, epochs } = this.of(index);
      if (cursor.ack(log, epochs, key, value)) return true;
    }
    return false;
  }

  private of(index: number): SeedLeader & { cursor: SeedCursor } {
    const { dir, log, epochs } = this.leader(index);
    let cursor = this.cursors.get(index);
    if (cursor === undefined) {
      cursor = new SeedCursor(dir);
      this.cursors.set(index, cursor);
    }
    return { cursor, dir, log, epochs };
  }
}
