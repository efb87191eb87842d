/**
 * Epochs in replication (docs/wal-format.md, "Epoch history"; docs/failover.md).
 *
 * A pull names the replica's position as (epoch, seq): `after=SEQ&epoch=E`, E being the epoch of
 * the record the replica holds at SEQ. The leader checks it against its own history (the live map's
 * `history` of the shard, oldest first, each epoch after 0 with its first seq):
 *   - E newer than the leader's epoch: the leader is stale (a newer map deposed it): STALE_LEADER.
 *   - E's range in the history ends before SEQ (a later epoch started at or below SEQ): the
 *     replica's records above the fork point `firstSeq - 1` of that later epoch were written by a
 *     leader nobody followed: DIVERGED with that fork seq.
 *   - otherwise the replica's history is a prefix of the leader's: records follow.
 * A batch never spans an epoch boundary (`cutAtEpoch`), so it carries one records epoch, written
 * into the replica's log frames as is.
 *
 * A promoted leader's epoch starts where its own log says (`withEpochStart`): the map's `firstSeq`
 * is the promoter's reading of the target's ack, and a target still following its old leader may
 * have applied more records (written by that leader, in its epoch) before it stopped to lead.
 */
import { DistkvError } from '../errors.js';
import { type EpochStart, historyLine } from '../routing/live-map.js';
import { epochOfSeq } from '../routing/version.js';
import type { StoreSpec } from '../worker/messages.js';

/** ShardEpochs is what a store knows of its shard's epochs (from the live map, through its spec). */
export interface ShardEpochs {
  epoch: number;
  history: readonly EpochStart[];
}

/** epochsOf reads a store's shard epochs from its spec (the live map as its worker last got it). */
export function epochsOf(spec: StoreSpec): ShardEpochs {
  return { epoch: spec.epoch ?? 0, history: spec.history ?? [] };
}

/**
 * checkPullEpoch returns the fork seq when a replica whose record at `after` has epoch `epoch`
 * diverged from the leader's history, undefined when it did not; throws STALE_LEADER when the
 * replica knows a newer epoch than the leader.
 */
export function checkPullEpoch(leader: ShardEpochs, epoch: number, after: number): number | undefined {
  if (epoch > leader.epoch)
    throw new DistkvError(
      'STALE_LEADER',
      `the replica's records are of epoch ${epoch} but this leader leads in epoch ${leader.epoch}: it was deposed; re-read the live map`,
    );
  const next = historyLine(leader.history).find((h) => h.epoch > epoch);
  if (next === undefined || after <= next.firstSeq - 1) return undefined;
  return next.firstSeq - 1;
}

/** divergedError is the DIVERGED error a leader answers with (its fork seq is also sent apart). */
export function divergedError(epoch: number, after: number, fork: number): DistkvError {
  return new DistkvError(
    'DIVERGED',
    `the replica's record at seq ${after} is of epoch ${epoch}, but this leader's history has another epoch there: its records above seq ${fork} are not the leader's (fork ${fork})`,
  );
}

/**
 * cutAtEpoch keeps the records (WAL framing, the first one with seq `firstSeq`) that belong to the
 * same epoch as the first one, and names that epoch.
 */
export function cutAtEpoch(
  records: Buffer,
  firstSeq: number,
  history: readonly EpochStart[],
): { records: Buffer; epoch: number } {
  const epoch = epochOfSeq(history, firstSeq);
  const next = historyLine(history).find((h) => h.firstSeq > firstSeq);
  if (next === undefined || records.length === 0) return { records, epoch };
  let offset = 0;
  for (let seq = firstSeq; seq < next.firstSeq && offset < records.length; seq++)
    offset += records.readUInt32LE(offset + 4) + 8;
  return { records: offset >= records.length ? records : records.subarray(0, offset), epoch };
}

/**
 * withEpochStart returns `epochs` with its current epoch starting at `firstSeq` instead of where
 * the history says: the seq of the first record its leader wrote in it.
 */
export function withEpochStart(epochs: ShardEpochs, firstSeq: number): ShardEpochs {
  const history = epochs.history.map((h) => (h.epoch === epochs.epoch ? { epoch: h.epoch, firstSeq } : h));
  return { epoch: epochs.epoch, history };
}

/**
 * followsFork tells whether a store whose last record, at `lastSeq`, is of epoch `epoch` already
 * follows the leader of `forkEpoch`, whose history (`epochs`, the new map's) forked from an older
 * epoch: its record there is of that epoch or a later one, and the new history's line has that
 * epoch write `lastSeq`. Only a leader of that epoch gave it such a record, after checking that its
 * history was a prefix of the leader's (checkPullEpoch), so its records above the fork are the
 * leader's, not lost ones. A store that holds records of a line the new history dropped (a restart
 * epoch a leader change beat: map-merge.ts), or of an older epoch above the fork, does not.
 */
export function followsFork(epochs: ShardEpochs, forkEpoch: number, epoch: number, lastSeq: number): boolean {
  return epoch >= forkEpoch && epochOfSeq(epochs.history, lastSeq) === epoch;
}

/**
 * ownMapFork is the fork a replica's own map shows below its last record `lastSeq` of epoch
 * `epoch` (a newer epoch started at or below it), undefined when it shows none or the replica's
 * epoch is newer than its map's. Its leader may say otherwise (its epoch may start later than the
 * map says): it only bounds what the replica claims until its leader first answers.
 */
export function ownMapFork(spec: StoreSpec, epoch: number, lastSeq: number): number | undefined {
  return ownForkOf(epochsOf(spec), epoch, lastSeq);
}

/** ownForkOf is checkPullEpoch's fork of (epoch, seq) on `epochs`, undefined when `epoch` is newer than theirs. */
export function ownForkOf(epochs: ShardEpochs, epoch: number, seq: number): number | undefined {
  try {
    return checkPullEpoch(epochs, epoch, seq);
  } catch {
    return undefined;
  }
}
