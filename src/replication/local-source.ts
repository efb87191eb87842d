/**
 * LocalSource: a replica whose leader store lives on the same worker thread reads the leader's
 * log directly (no copy beyond the batch itself, no message). It checks the pull's epoch against
 * the leader's history and cuts batches at epoch boundaries as the HTTP leader does (epochs.ts).
 */
import type { ReplicationLog } from '../storage/replication-log.js';
import type { SnapshotEntry } from '../storage/store-replication.js';
import type { Store } from '../storage/store.js';
import { checkPullEpoch, cutAtEpoch, type ShardEpochs } from './epochs.js';
import type { PullResult, ReplicationSource, SnapshotStream } from './source.js';

const SNAPSHOT_CHUNK = 1000;

/** LocalLeader is what a LocalSource reads of its leader: its log and its data. */
export type LocalLeader = ReplicationLog & Pick<Store, 'lastSeq' | 'scan'>;

/** LocalSource reads a leader store on this thread. */
export class LocalSource implements ReplicationSource {
  readonly describe: string;
  private readonly leader: () => LocalLeader | undefined;
  private readonly epochs: () => ShardEpochs;

  /** `epochs` reads the leader's shard epochs (its spec). */
  constructor(
    leader: () => LocalLeader | undefined,
    describe: string,
    epochs: () => ShardEpochs = () => ({ epoch: 0, history: [] }),
  ) {
    this.leader = leader;
    this.describe = describe;
    this.epochs = epochs;
  }

  async pull(after: number, maxBytes: number, waitMs: number, epoch = 0): Promise<PullResult> {
    const leader = this.current();
    const fork = checkPullEpoch(this.epochs(), epoch, after);
    if (fork !== undefined) return { fork };
    if (after > leader.lastSeq()) return 'diverged';
    let r = leader.readLog(after, maxBytes);
    if (r !== 'gone' && r.records.length === 0 && waitMs > 0) {
      await leader.waitForLog(after, waitMs);
      r = this.current().readLog(after, maxBytes);
    }
    if (r === 'gone') return 'gone';
    const e = this.epochs();
    const batch = cutAtEpoch(r.records, after + 1, e.history);
    return {
      records: batch.records,
      leaderSeq: this.current().lastSeq(),
      epoch: e.epoch,
      recordsEpoch: batch.epoch,
      checked: true,
    };
  }

  snapshot(): Promise<SnapshotStream> {
    const leader = this.current();
    const seq = leader.lastSeq();
    let exact = seq;
    async function* chunks(): AsyncIterable<SnapshotEntry[]> {
      let after: Uint8Array | undefined;
      for (;;) {
        const page = leader.scan(new Uint8Array(0), after, SNAPSHOT_CHUNK);
        exact = leader.lastSeq();
        if (page.length === 0) return;
        yield page;
        after = page[page.length - 1]!.key;
        await new Promise((r) => setImmediate(r));
      }
    }
    return Promise.resolve({ seq, chunks: chunks(), exactSeq: () => exact });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private current(): LocalLeader {
    const l = this.leader();
    if (l === undefined) throw new Error(`${this.describe}: the leader store is not open`);
    return l;
  }
}
