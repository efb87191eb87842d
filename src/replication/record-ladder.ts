/**
 * The record ladder: a replica's own records, checked on its first pull after each (re)connect
 * (docs/failover.md, "A leader put back from an older copy of itself").
 *
 * History ids and epochs name a history, not its records. A leader whose data directory is put back
 * from an older copy of itself (a VM snapshot, a file-level backup) keeps its history id and epoch
 * with fewer records, then writes new ones at seqs its replica holds other records at. When it
 * restarted once more before the replica returned, the replica's position is below its start seq
 * (leader-state.ts, `restartFork`, does not see it) and below its last seq (no REPLICA_AHEAD): the
 * replica pulled on top of its own records, served keys the leader never had with lag 0, and lacked
 * acknowledged ones. So on its first pull after each start or failed pull, the replica sends the
 * crcs of some of its own records, and the leader compares them with its own:
 *
 *   ladder := entry ("," entry)*        seqs: some of ladderSeqs(after), in its (descending) order
 *   entry  := seq ":" crc               seq: decimal, 1 ≤ seq ≤ the pull's `after`; crc: 1-8 hex digits
 *
 * The seqs are `after`, `after-1`, `after-2`, `after-4`, ... down to 1 (`ladderSeqs`: at most
 * 2 + log2(after) of them; a ladder of any other shape is refused, `ladderShapeFault`); the crc of
 * each is the record's stored crc32c, the first u32 of its WAL framing (wal-format.ts: it covers
 * len, type, seq, key and value, so two records with the same crc at a seq are taken for the same).
 * A seq whose record the replica's log no longer holds (compacted, or a replica rebuilt from a
 * snapshot, which holds none at its seq) is left out; a replica holding none sends no ladder.
 *
 * The leader (`ladderFork`) compares each entry whose seq its own log holds (at most its last seq,
 * not compacted), from the lowest up, and stops at the first that differs. If one differs, the fork
 * is the highest matching entry below the lowest differing one (0 if none): every record above it
 * may be foreign, and the replica saves them to a divergence file and resyncs. The fork is exact to
 * within the ladder's step there (a fork at most twice as far below the replica's position as the
 * true one): the divergence file may hold records the leader also has, never lacks one it does not.
 * Entries the leader lacks decide nothing: a ladder whose known entries all match is not a fork,
 * even above the leader's last seq (a leader that started behind its replica keeps that replica's
 * records: src/server/behind-leaders.ts).
 *
 * Later pulls send none: while connected the replica follows the leader's log exactly, and a
 * leader's restart, which is where two logs part, breaks the connection.
 */
import { DistkvError } from '../errors.js';
import type { ReplicationLog } from '../storage/replication-log.js';
import { RECORD_PREFIX_BYTES, readU64 } from '../storage/wal-format.js';

/** LadderEntry is one rung of a ladder: the crc of the record at `seq`. */
export interface LadderEntry {
  seq: number;
  crc: number;
}

/** MAX_LADDER_ENTRIES bounds a ladder (a seq up to 2^53 needs 55). */
export const MAX_LADDER_ENTRIES = 64;
/** MAX_LADDER_CHARS bounds the `ladder` parameter's text (64 entries of 16 digits, ":", 8 hex and ","). */
export const MAX_LADDER_CHARS = MAX_LADDER_ENTRIES * 27;

/** ladderSeqs lists the seqs of the ladder of a replica at `after`: after, after-1, after-2, after-4, ..., then 1. */
export function ladderSeqs(after: number): number[] {
  const seqs: number[] = [];
  for (let step = 0; after - step >= 1; step = step === 0 ? 1 : step * 2) seqs.push(after - step);
  if (seqs.length > 0 && seqs[seqs.length - 1] !== 1) seqs.push(1);
  return seqs;
}

/**
 * crcAt reads the stored crc of the record at `seq` in `log`, undefined when the log does not hold
 * it or cannot read it: a damaged older segment, which no pull from the ack reads, must not stop
 * replication for a check (the entry is left out, as a compacted one is).
 */
export function crcAt(log: Pick<ReplicationLog, 'readLog'>, seq: number): number | undefined {
  if (seq < 1) return undefined;
  let r: ReturnType<ReplicationLog['readLog']>;
  try {
    r = log.readLog(seq - 1, 1);
  } catch {
    return undefined;
  }
  if (r === 'gone' || r.records.length < RECORD_PREFIX_BYTES + 9) return undefined;
  // The answer starts at the record after `seq - 1`: its seq is checked, not assumed.
  if (readU64(r.records, RECORD_PREFIX_BYTES + 1) !== seq) return undefined;
  return r.records.readUInt32LE(0);
}

/** buildLadder is the ladder of a replica whose log is `log` and whose ack is `after`; undefined when it holds none of its records. */
export function buildLadder(log: Pick<ReplicationLog, 'readLog'>, after: number): LadderEntry[] | undefined {
  const ladder: LadderEntry[] = [];
  for (const seq of ladderSeqs(after)) {
    const crc = crcAt(log, seq);
    if (crc !== undefined) ladder.push({ seq, crc });
  }
  return ladder.length === 0 ? undefined : ladder;
}

/** encodeLadder writes a ladder as the `ladder` parameter's text (see the grammar above). */
export function encodeLadder(ladder: readonly LadderEntry[]): string {
  return ladder.map((e) => `${String(e.seq)}:${e.crc.toString(16)}`).join(',');
}

const ENTRY = /^([1-9][0-9]{0,15}):([0-9a-f]{1,8})$/;

/**
 * ladderShapeFault says why `ladder` is not one a replica at `after` sends (buildLadder: a subset of
 * `ladderSeqs(after)`, in its order), undefined when it is one. So a ladder holds at most
 * 2 + log2(after) entries, strictly descending, at most `after`, at the seqs a replica's ladder has:
 * whoever sends one (pulls need no token) makes the leader read at most those records of its log
 * (docs/failover.md, "What a ladder costs the leader").
 */
export function ladderShapeFault(ladder: readonly LadderEntry[], after: number): string | undefined {
  const rungs = ladderSeqs(after);
  if (ladder.length > rungs.length)
    return `${String(ladder.length)} entries, more than the ${String(rungs.length)} of a replica at ${String(after)}`;
  let above = after + 1;
  let r = 0;
  for (const e of ladder) {
    if (e.seq > after) return `seq ${String(e.seq)} above after`;
    if (e.seq >= above) return `seq ${String(e.seq)} not below the one before it (${String(above)})`;
    while (r < rungs.length && rungs[r]! > e.seq) r++;
    if (rungs[r] !== e.seq)
      return `seq ${String(e.seq)} is not one of after, after-1, after-2, after-4, ..., 1`;
    above = e.seq;
  }
  return undefined;
}

/** ladderFault is the INVALID_ARGUMENT (400) a pull's ladder that is not one is refused with, saying `why`. */
export function ladderFault(after: number, why: string, text?: string): DistkvError {
  return new DistkvError(
    'INVALID_ARGUMENT',
    `ladder must be SEQ:CRCHEX entries at seqs after, after-1, after-2, after-4, ..., 1, descending, after = ${String(after)}: ${why}${text === undefined ? '' : `, got ${JSON.stringify(text.slice(0, 64))}`}`,
  );
}

/** parseLadder reads a pull's `ladder` parameter for a pull at `after`; throws INVALID_ARGUMENT naming it when it is not one a replica sends (ladderShapeFault). */
export function parseLadder(text: string, after: number): LadderEntry[] {
  const bad = (why: string): DistkvError => ladderFault(after, why, text);
  if (text.length > MAX_LADDER_CHARS) throw bad(`${String(text.length)} characters`);
  const parts = text.split(',');
  if (parts.length > MAX_LADDER_ENTRIES) throw bad(`${String(parts.length)} entries`);
  const ladder: LadderEntry[] = [];
  for (const part of parts) {
    const m = ENTRY.exec(part);
    if (m === null) throw bad(`entry ${JSON.stringify(part.slice(0, 32))}`);
    const seq = Number(m[1]);
    if (!Number.isSafeInteger(seq)) throw bad(`seq ${m[1]!} out of range`);
    ladder.push({ seq, crc: Number.parseInt(m[2]!, 16) });
  }
  const fault = ladderShapeFault(ladder, after);
  if (fault !== undefined) throw bad(fault);
  return ladder;
}

/**
 * ladderFork is the fork a leader answers a replica's `ladder` with (see above): `leaderCrc(seq)` is
 * the crc of the leader's record at seq, undefined when its log does not hold it. Only entries at
 * or below `bound` count (the fork the replica's epoch gives, when it gives one: the records above
 * it are known to differ already). Undefined: no entry the leader holds differs. `ladder` is in a
 * replica's order (seqs descending: ladderShapeFault).
 *
 * The entries are compared from the lowest up: the first that differs is the lowest differing
 * one, and the last match before it the highest matching one below it, so the entries above it
 * are not read (each may be a read of an older segment of the leader's log).
 */
export function ladderFork(
  ladder: readonly LadderEntry[],
  leaderCrc: (seq: number) => number | undefined,
  bound = Number.POSITIVE_INFINITY,
): number | undefined {
  let fork = 0;
  for (let i = ladder.length - 1; i >= 0; i--) {
    const e = ladder[i]!;
    if (e.seq > bound) break;
    const crc = leaderCrc(e.seq);
    if (crc === undefined) continue;
    if (crc !== e.crc) return fork;
    fork = e.seq;
  }
  return undefined;
}

/** leaderLadderFork is ladderFork against leader log `log`, whose last seq is `lastSeq`. */
export function leaderLadderFork(
  log: Pick<ReplicationLog, 'readLog'>,
  lastSeq: number,
  ladder: readonly LadderEntry[] | undefined,
  bound?: number,
): number | undefined {
  if (ladder === undefined || ladder.length === 0) return undefined;
  return ladderFork(ladder, (seq) => (seq > lastSeq ? undefined : crcAt(log, seq)), bound);
}
