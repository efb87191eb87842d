/**
 * LocalSource: a replica whose leader store lives on the same worker thread reads the leader's
 * log directly (no copy beyond the batch itself, no message). It checks the replica's history id
 * (history-check.ts) and the pull's epoch against the leader's history and cuts batches at epoch
 * boundaries as the HTTP leader does (epochs.ts).
 *
 * When both stores share the worker's commit log (the default layout), a caught-up replica is fed
 * instead (`follow`): the leader's log appends each of its batch parts to the replica's log in the
 * same batch (StoreLog.mirrorTo), so a replicated write costs no pull, no second batch or
 * fdatasync and no wake-up. The feed carries records of the leader's current epoch only, to a
 * replica of the leader's history id (one without it pulls first, and takes it); anything it
 * cannot take ends it, and the replica pulls again.
 */
import { DistkvError } from '../errors.js';
import { SLOT_COUNT } from '../routing/slot.js';
import { scanOwnSlots, type SlotRange } from '../storage/own-slots.js';
import type { ReplicationLog } from '../storage/replication-log.js';
import type { Feed, SnapshotEntry, StoreReplication } from '../storage/store-replication.js';
import type { Store } from '../storage/store.js';
import { epochOfSeq } from '../routing/version.js';
import { checkPullEpoch, cutAtEpoch, type ShardEpochs } from './epochs.js';
import { historyFork } from './history-check.js';
import type { FollowRequest, PullResult, ReplicationSource, SnapshotStream } from './source.js';

/** SNAPSHOT_CHUNK and SNAPSHOT_CHUNK_BYTES bound a snapshot chunk: entries, and their keys' and values' bytes (Store.scan). */
const SNAPSHOT_CHUNK = 1000;
const SNAPSHOT_CHUNK_BYTES = 4 * 1024 * 1024;

/** LocalLeader is what a LocalSource reads of its leader: its log and its data. */
export type LocalLeader = ReplicationLog &
  Pick<Store, 'lastSeq' | 'scan'> &
  Partial<Pick<StoreReplication, 'feed' | 'epoch' | 'isClosed' | 'history'>>;

/** LocalSource reads a leader store on this thread. */
export class LocalSource implements ReplicationSource {
  readonly describe: string;
  private readonly leader: () => LocalLeader | undefined;
  private readonly epochs: () => ShardEpochs;
  private readonly slots: SlotRange;
  /** feeding is the running feed (follow), stopped by close. */
  private feeding: Feed | undefined;

  /** `epochs` reads the leader's shard epochs (its spec); `slots` are the shard's (all by default). */
  constructor(
    leader: () => LocalLeader | undefined,
    describe: string,
    epochs: () => ShardEpochs = () => ({ epoch: 0, history: [] }),
    slots: SlotRange = { first: 0, last: SLOT_COUNT - 1 },
  ) {
    this.leader = leader;
    this.describe = describe;
    this.epochs = epochs;
    this.slots = slots;
  }

  async pull(
    after: number,
    maxBytes: number,
    waitMs: number,
    epoch = 0,
    history?: string,
  ): Promise<PullResult> {
    const leader = this.current();
    const epochs = this.epochs();
    const foreign = historyFork(leader.history, history, after);
    if (foreign !== undefined) return { fork: foreign, epoch: epochs.epoch };
    const fork = checkPullEpoch(epochs, epoch, after);
    if (fork !== undefined) return { fork, epoch: epochs.epoch };
    if (after > leader.lastSeq()) return 'diverged';
    let r = leader.readLog(after, maxBytes);
    if (r !== 'gone' && r.records.length === 0 && waitMs > 0) {
      // A closed leader's log answers a wait at once: asked again and again without a pause, the
      // follower would starve this thread (every turn of its loop a microtask).
      if (leader.isClosed?.() === true) throw new DistkvError('UNAVAILABLE', `${this.describe} is closed`);
      await leader.waitForLog(after, waitMs);
      r = this.current().readLog(after, maxBytes);
    }
    if (r === 'gone') return 'gone';
    const e = this.epochs();
    const batch = cutAtEpoch(r.records, after + 1, e.history);
    const id = this.current().history;
    return {
      records: batch.records,
      leaderSeq: this.current().lastSeq(),
      epoch: e.epoch,
      recordsEpoch: batch.epoch,
      ...(id === undefined ? {} : { history: id }),
      checked: true,
    };
  }

  follow({ replica, after, epoch, known, waitMs, fed }: FollowRequest): Feed | undefined {
    const leader = this.leader();
    if (leader?.feed === undefined || this.feeding !== undefined) return undefined;
    const e = this.epochs();
    // Fed records are logged in the leader's epoch: only a replica on its current history takes them.
    if (e.epoch < known || leader.epoch !== e.epoch || checkPullEpoch(e, epoch, after) !== undefined)
      return undefined;
    // And only one of its history id: another is told so by a pull, one without takes it from a pull.
    if (leader.history !== replica.history) return undefined;
    const feed = leader.feed(replica, (ack) => {
      fed(ack, leader.lastSeq());
    });
    if (feed === undefined) return undefined;
    this.feeding = feed;
    fed(after, leader.lastSeq());
    // The leader is this thread's: while no batch comes, it has still answered "nothing new".
    const beat = setInterval(
      () => {
        fed(replica.lastSeq(), leader.lastSeq());
      },
      Math.max(1, waitMs),
    );
    beat.unref();
    void feed.ended.finally(() => {
      clearInterval(beat);
      if (this.feeding === feed) this.feeding = undefined;
    });
    return feed;
  }

  /**
   * snapshot streams the keys of the shard's slots only, as `/_repl/snapshot` does
   * (ReplicationHost.snapshotPage): keys a layout change left in the leader's store are not the
   * shard's, and a replica that copied them served them once a later layout gave it their slots.
   */
  snapshot(): Promise<SnapshotStream> {
    const leader = this.current();
    const seq = leader.lastSeq();
    const slots = this.slots;
    let exact = seq;
    async function* chunks(): AsyncIterable<SnapshotEntry[]> {
      let after: Uint8Array | undefined;
      for (;;) {
        const empty = new Uint8Array(0);
        const page = scanOwnSlots(leader, slots, empty, after, SNAPSHOT_CHUNK, SNAPSHOT_CHUNK_BYTES);
        exact = leader.lastSeq();
        if (page.length === 0) return;
        yield page;
        after = page[page.length - 1]!.key;
        await new Promise((r) => setImmediate(r));
      }
    }
    const epoch = epochOfSeq(this.epochs().history, seq);
    const history = leader.history === undefined ? {} : { history: leader.history };
    return Promise.resolve({ seq, epoch, ...history, chunks: chunks(), exactSeq: () => exact });
  }

  close(): Promise<void> {
    this.feeding?.stop();
    return Promise.resolve();
  }

  private current(): LocalLeader {
    const l = this.leader();
    if (l === undefined) throw new Error(`${this.describe}: the leader store is not open`);
    return l;
  }
}
