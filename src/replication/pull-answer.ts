/**
 * Answering a replica's pull on its leader's worker (the `/_repl/pull` route and the seed-compatible
 * replicas reach it through ReplicationHost.pull): what the leader's log holds after the replica's
 * ack, in one epoch, or why it cannot be served (docs/failover.md, "Where an epoch starts").
 *
 * A replica of another history (its `history` id is not the leader's: history-check.ts) at a
 * position above 0 answers the fork 0, before anything its (epoch, after) says. A replica's record
 * ladder (record-ladder.ts, its first pull after a (re)connect; INVALID_ARGUMENT when it is not of
 * the shape a replica sends) with a crc other than the leader's
 * record's at its seq answers the ladder's fork: within the fork its epoch gives, if it gives one
 * (a STALE_LEADER refusal comes first). An (epoch, after)
 * off the leader's history answers its `fork` (epochs.ts), and so does a
 * replica's first position above what the leader held at its start (leader-state.ts,
 * `restartFork`), even beyond the leader's last seq; any other `after` beyond it is refused with
 * REPLICA_AHEAD; none is recorded as an ack. An empty log waits
 * up to `waitMs` for a record, unless the leader's process is stopping (src/util/stop-wakes.ts): a wait then
 * ends at once, the log is read again, and the answer says `stopping`. A batch holds the records of
 * one epoch, `recordsEpoch`.
 */
import { DistkvError } from '../errors.js';
import type { StoreReplication } from '../storage/store-replication.js';
import { checkPullEpoch, cutAtEpoch, type ShardEpochs } from './epochs.js';
import { historyFork } from './history-check.js';
import { ladderFault, ladderShapeFault, leaderLadderFork, type LadderEntry } from './record-ladder.js';
import type { StopWakes } from '../util/stop-wakes.js';

/** PullAnswer is what a pull gets: records after the ack (WAL framing), or `gone` (resync), or a `fork`. */
export interface PullAnswer {
  gone: boolean;
  records: Buffer;
  leaderSeq: number;
  epoch: number;
  recordsEpoch: number;
  fork?: number;
  /** history is the leader's history id (history-check.ts), absent while it has none. */
  history?: string;
  /** stopping: the leader's process is stopping (src/util/stop-wakes.ts); the answer closes its connection. */
  stopping: boolean;
}

/** PullRequest is one replica's pull: its ack `after`, the epoch of its record there, and its limits. */
export interface PullRequest {
  after: number;
  maxBytes: number;
  waitMs: number;
  replica: string;
  epoch: number;
  /** history is the replica's history id; absent (an older replica, the seed's): not checked. */
  history?: string;
  /** ladder is the crcs of some of the replica's own records (record-ladder.ts); absent: not checked. */
  ladder?: readonly LadderEntry[];
}

/** PullLeader is the leader store a pull reads, as its worker hosts it now. */
export interface PullLeader {
  /** name names the store in errors ("store 3"). */
  name: string;
  /** store is the leader's replication seam; it throws UNAVAILABLE once the store leads no more. */
  store(): StoreReplication;
  /** epochs reads the leader's shard epochs as its worker knows them now (they change when it is re-elected). */
  epochs(): ShardEpochs;
  /** ack records the replica's acknowledged seq (the leader's w=N waits and retention count it). */
  ack(replica: string, seq: number): void;
  /** restartFork is the fork for a first position above what the leader held at its start (LeaderState.restartFork). */
  restartFork?: (replica: string, after: number) => number | undefined;
  /** end is the stop of the leader's process: it cuts a wait short (src/util/stop-wakes.ts). */
  end?: StopWakes;
}

/** answerPull answers pull `p` from `leader` (see above). */
export async function answerPull(leader: PullLeader, p: PullRequest): Promise<PullAnswer> {
  // Each entry of a ladder may be a read of an older segment of the leader's log, and pulls need no
  // token: only the shape a replica sends is read (at most 2 + log2(after) entries), as the route
  // checks it first (parseLadder); a ladder that reached here another way is refused the same.
  const shapeFault = p.ladder === undefined ? undefined : ladderShapeFault(p.ladder, p.after);
  if (shapeFault !== undefined) throw ladderFault(p.after, shapeFault);
  const first = leader.store();
  const stopping = (): boolean => leader.end?.ended === true;
  const history = first.history === undefined ? {} : { history: first.history };
  const none = (leaderSeq: number, gone: boolean): PullAnswer => ({
    gone,
    records: Buffer.alloc(0),
    leaderSeq,
    epoch: leader.epochs().epoch,
    recordsEpoch: leader.epochs().epoch,
    ...history,
    stopping: stopping(),
  });
  // Another history's epochs say nothing of this one's: checked first (a foreign store of a later
  // epoch was told this leader was deposed, and retried for good).
  const foreign = historyFork(first.history, p.history, p.after);
  if (foreign !== undefined) return { ...none(first.lastSeq(), false), fork: foreign };
  const fork = checkPullEpoch(leader.epochs(), p.epoch, p.after);
  // Records that differ from the leader's at a seq both hold: a leader put back from an older copy
  // of itself, with the same history id and epoch, that wrote other records at the replica's seqs.
  const last = first.lastSeq();
  const differs = leaderLadderFork(first, last, p.ladder, fork);
  if (differs !== undefined) return { ...none(last, false), fork: differs };
  if (fork !== undefined) return { ...none(last, false), fork };
  // Before REPLICA_AHEAD: a replica ahead of a leader that restarted without its unsynced tail
  // holds the only copy of those records. Told it is ahead, it resynced and they went unsaved;
  // told the fork, it saves them to a divergence file first.
  const lost = leader.restartFork?.(p.replica, p.after);
  if (lost !== undefined) return { ...none(last, false), fork: lost };
  if (p.after > last)
    throw new DistkvError(
      'REPLICA_AHEAD',
      `replica ${p.replica} acknowledges seq ${p.after} but the leader's last seq is ${last}: it holds another history and must resync from /_repl/snapshot`,
    );
  leader.ack(p.replica, p.after);
  let r = first.readLog(p.after, p.maxBytes);
  if (r !== 'gone' && r.records.length === 0 && p.waitMs > 0 && !stopping()) {
    // Woken by a record, by its time, or by the stop: read again, so what was written is sent.
    const wait = first.waitForLog(p.after, p.waitMs);
    await (leader.end?.parked(wait) ?? wait);
    r = leader.store().readLog(p.after, p.maxBytes);
  }
  // A closing leader's wait ends at once with nothing: answered as "none yet" (204), its replica
  // would pull again straight away, in a loop. As an unavailable leader (503) it is backed off.
  if (r !== 'gone' && r.records.length === 0 && leader.store().isClosed?.() === true)
    throw new DistkvError('UNAVAILABLE', `${leader.name} is closing: it answers no pulls`);
  const leaderSeq = leader.store().lastSeq();
  if (r === 'gone') return none(leaderSeq, true);
  // Read again after the wait: the leader may have been re-elected meanwhile, and the records it
  // wrote since are of its new epoch. Labelled with the old one, the replica logged them so, and its
  // next pull was told it forked at the new epoch's start (a divergence file of the leader's own
  // records, and a resync for nothing).
  const epochs = leader.epochs();
  const batch = cutAtEpoch(r.records, p.after + 1, epochs.history);
  return {
    gone: false,
    records: batch.records,
    leaderSeq,
    epoch: epochs.epoch,
    recordsEpoch: batch.epoch,
    ...history,
    stopping: stopping(),
  };
}
