/**
 * LocalSource: a replica whose leader store lives on the same worker thread reads the leader's
 * log directly (no copy beyond the batch itself, no message). It checks the replica's history id
 * (history-check.ts), its record ladder (record-ladder.ts) and the pull's epoch against the
 * leader's history and cuts batches at epoch boundaries as the HTTP leader does (epochs.ts).
 *
 * When both stores share the worker's commit log (the default layout), a caught-up replica is fed
 * instead (`follow`): the leader's log appends each of its batch parts to the replica's log in the
 * same batch (StoreLog.mirrorTo), so a replicated write costs no pull, no second batch or
 * fdatasync and no wake-up. The feed carries records of the leader's current epoch only, to a
 * replica of the leader's history id (one without it pulls first, and takes it); anything it
 * cannot take ends it, and the replica pulls again.
 *
 * A leader watched from its start (`holdAhead`: its node checks whether it started behind a
 * replica, src/server/behind-leaders.ts) that has taken no write since this source first read it
 * refuses a replica ahead of it with LEADER_BEHIND, before any other check: the replica keeps its
 * records and asks again, as one in another process is refused by `/_repl/pull` while its node
 * holds the shard. The replica's first pull comes as its worker opens, before the node has read
 * any replica's position: answered 'diverged' (or, its leader's directory lost with its history
 * id and live map, a fork at 0), it resynced from the empty leader and its records were gone
 * (test/e2e/load-replica-only-same-process.test.ts). A leader that took a write is no longer
 * watched: a replica ahead of it holds another history, answered as before.
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
import { leaderLadderFork } from './record-ladder.js';
import type { FollowRequest, PullOptions, PullResult, ReplicationSource, SnapshotStream } from './source.js';

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
  /** holdAhead: the leader is watched from its start (see above). */
  private readonly holdAhead: boolean;
  /** firstSeen is the leader's last seq when this source first read it (holdAhead). */
  private firstSeen: number | undefined;

  /**
   * `epochs` reads the leader's shard epochs (its spec); `slots` are the shard's (all by default);
   * `holdAhead`: the leader is watched from its start (see above).
   */
  constructor(
    leader: () => LocalLeader | undefined,
    describe: string,
    epochs: () => ShardEpochs = () => ({ epoch: 0, history: [] }),
    slots: SlotRange = { first: 0, last: SLOT_COUNT - 1 },
    holdAhead = false,
  ) {
    this.leader = leader;
    this.describe = describe;
    this.epochs = epochs;
    this.slots = slots;
    this.holdAhead = holdAhead;
  }

  async pull(
    after: number,
    maxBytes: number,
    waitMs: number,
    options: PullOptions = {},
  ): Promise<PullResult> {
    const { epoch = 0, history, ladder } = options;
    const leader = this.current();
    this.refuseAhead(leader, after);
    const epochs = this.epochs();
    const foreign = historyFork(leader.history, history, after);
    if (foreign !== undefined) return { fork: foreign, epoch: epochs.epoch };
    const fork = checkPullEpoch(epochs, epoch, after);
    // As answerPull does (pull-answer.ts): a ladder entry that differs, within the epoch's fork.
    const differs = leaderLadderFork(leader, leader.lastSeq(), ladder, fork);
    if (differs !== undefined) return { fork: differs, epoch: epochs.epoch };
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

  /**
   * refuseAhead throws LEADER_BEHIND for a pull at `after`, above the last seq of `leader`, watched
   * from its start and unwritten since this source first read it (see above).
   */
  private refuseAhead(leader: LocalLeader, after: number): void {
    if (!this.holdAhead) return;
    const last = leader.lastSeq();
    this.firstSeen ??= last;
    if (after <= last || last !== this.firstSeen) return;
    throw new DistkvError(
      'LEADER_BEHIND',
      `${this.describe} holds records through seq ${String(last)} only and took no write since it opened, and this replica holds them through seq ${String(after)}: refused, not resynced, until its node has checked whether it started behind this replica (docs/failover.md, "A leader that starts behind its replica")`,
    );
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
