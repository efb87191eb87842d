/**
 * The refusals of `distkv failover` (docs/failover.md, "Forced failover and fencing of a former
 * leader", "Who holds a shard"): each throws, naming what does not fit, where going on could drop
 * acknowledged writes or race another failover. The command calls them before it holds anything
 * and once its claim is placed, and releases what it held when one throws.
 */
import { DistkvError } from '../errors.js';
import { type AdminAuth, clusterOf, type NodeDoc } from './failover-calls.js';

/**
 * checkNotResyncing refuses a target that reports `resyncing` (unless `forced`): it is rebuilding
 * from a leader snapshot, so its content is partial (the load is under way) or fuzzy (until it
 * replays the log through the snapshot's exactSeq). Promoted mid-load, it answered UNAVAILABLE
 * until a restart, and then its worker refuses to lead over the unfinished load.
 */
export function checkNotResyncing(
  doc: NodeDoc | undefined,
  idx: number,
  target: string,
  forced: boolean,
): void {
  const r = localReplica(doc, idx, target);
  if (forced || r?.state !== 'resyncing') return;
  throw new DistkvError(
    'INVALID_ARGUMENT',
    `${target} is resyncing from a leader snapshot (at seq ${r.acked_seq ?? 0}): its content is partial or fuzzy until the resync ends; wait for it (distkv cluster shows its state), give another replica with --to, or pass --force-resyncing to promote it anyway`,
  );
}

/** NEVER_CATCH_UP are the refusals of a replica's pulls that last until an operator acts. */
const NEVER_CATCH_UP: Record<string, string> = {
  UNAUTHORIZED: "its server.token differs from the leader's: give it the cluster's token and restart it",
  CONFIG_MISMATCH:
    "it routes with another sharding.toml than the leader: give it the leader's and restart it",
};

/**
 * checkTargetFollows refuses a planned failover to a target whose pulls its leader (`leaderDoc`,
 * the leader's `/cluster`) refuses with a code that lasts until an operator acts (NEVER_CATCH_UP)
 * and that does not follow: the failover holds the shard's writes until the target catches up,
 * which it never does. It held them for the whole `--timeout-ms` (30 s by default), then said
 * REPLICATION_TIMEOUT "reached seq 249 of 257" without the reason it had read before holding anything.
 */
export function checkTargetFollows(
  leaderDoc: NodeDoc | undefined,
  idx: number,
  target: string,
  others: readonly string[],
): void {
  const view = leaderDoc?.shards
    .find((s) => s.idx === idx)
    ?.replicas.find((r) => r.address === target)?.leader_view;
  const code = view?.refused?.code;
  if (view === undefined || view.following === true || code === undefined) return;
  const why = NEVER_CATCH_UP[code];
  if (why === undefined) return;
  throw new DistkvError(
    'INVALID_ARGUMENT',
    `${target} cannot catch up with its leader, which refused its last pull ${String(view.refused?.ms_ago)} ms ago with ${code}: ${why}, then run the failover again${others.length === 0 ? '' : `, or choose another replica with --to (${others.join(', ')})`}. Nothing was held`,
  );
}

/**
 * diskFailure is the code `replica` gives in its own `/cluster` (`doc`) for its store of shard
 * `idx` while that store is `disk-failed` (its directory lost: STORE_DIR_LOST; its own disk
 * failed: DISK_FULL, ...), else undefined. Such a replica is never a failover's target.
 */
export function diskFailure(doc: NodeDoc | undefined, idx: number, replica: string): string | undefined {
  const r = localReplica(doc, idx, replica);
  return r?.state === 'disk-failed' ? (r.local_error ?? 'unknown') : undefined;
}

/**
 * checkNotDiskFailed refuses a target that reports `disk-failed` (`diskFailure`), forced or not:
 * promoted, it refuses every write as leader (and, its directory lost, loses what it holds at its
 * next start), so a forced failover to it gains nothing. `others` are the replicas that answer.
 */
export function checkNotDiskFailed(
  doc: NodeDoc | undefined,
  idx: number,
  shard: string,
  target: string,
  others: readonly string[],
): void {
  const code = diskFailure(doc, idx, target);
  if (code === undefined) return;
  const why =
    code === 'STORE_DIR_LOST'
      ? `its store of ${shard} lost its directory while the node runs (removed or replaced): it refuses every write, and what it holds is gone at its next start`
      : `its own disk failed (${code.slice(0, 64)}): its store of ${shard} cannot write`;
  const rest = others.filter((r) => r !== target);
  throw new DistkvError(
    'INVALID_ARGUMENT',
    `--to ${target} is disk-failed (local_error ${code.slice(0, 64)}): ${why}, so as leader it would refuse every write; --force does not change that. ` +
      (code === 'STORE_DIR_LOST'
        ? `Restart ${target} (its store is rebuilt from the leader)`
        : `Fix its disk (its log and /stats lastError name the directory)`) +
      `, or give another replica with --to${rest.length === 0 ? '' : ` (${rest.join(', ')})`}`,
  );
}

/**
 * checkSomeMayLead refuses a failover without --to when every replica that answers
 * (`candidates`) is `disk-failed` (`diskFailure`), naming each with its code.
 */
export function checkSomeMayLead(
  docs: ReadonlyMap<string, NodeDoc | undefined>,
  idx: number,
  shard: string,
  candidates: readonly string[],
): void {
  const failed = candidates.map((r) => [r, diskFailure(docs.get(r), idx, r)] as const);
  if (failed.length === 0 || failed.some(([, code]) => code === undefined)) return;
  throw new DistkvError(
    'UNAVAILABLE',
    `no replica of ${shard} may lead: ${failed.map(([r, code]) => `${r} is disk-failed (local_error ${String(code).slice(0, 64)})`).join(', ')}; as leader each would refuse every write. Fix that (distkv cluster says what each needs), then run the failover again`,
  );
}

/** isResyncing reports whether `replica` says in its `/cluster` (`doc`) that it resyncs shard `idx`. */
export function isResyncing(doc: NodeDoc | undefined, idx: number, replica: string): boolean {
  return localReplica(doc, idx, replica)?.state === 'resyncing';
}

/** localReplica is what `replica`'s own `/cluster` (`doc`) says of its store of shard `idx`. */
function localReplica(doc: NodeDoc | undefined, idx: number, replica: string) {
  return doc?.shards.find((s) => s.idx === idx)?.replicas.find((x) => x.address === replica && x.local);
}

/**
 * checkForcedTarget refuses a forced promotion that would drop acknowledged writes without the
 * operator choosing it: a `w >= 1` write is held by some replica, so only the most advanced one
 * holds them all. A --to replica behind another that answers is refused (INVALID_ARGUMENT); with
 * a replica that does not answer, the most advanced is unknown, and the pick is refused
 * (SHARD_UNREACHABLE) unless --to names the target: naming it accepts losing what only the
 * silent replicas hold (they write it to a divergence file when they come back).
 */
export function checkForcedTarget(
  shard: string,
  target: string,
  named: boolean,
  ahead: string | undefined,
  ack: (replica: string) => number,
  replicas: readonly string[],
  docs: ReadonlyMap<string, NodeDoc | undefined>,
): void {
  if (ahead !== undefined && ahead !== target && ack(ahead) > ack(target))
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `--to ${target} holds seq ${ack(target)} but ${ahead} holds seq ${ack(ahead)}: promoting ${target} would lose the acknowledged writes between; omit --to (the most advanced is promoted) or give --to ${ahead}`,
    );
  const silent = replicas.filter((r) => docs.get(r) === undefined);
  if (!named && silent.length > 0)
    throw new DistkvError(
      'SHARD_UNREACHABLE',
      `replica ${silent.join(', ')} of ${shard} does not answer: it may hold acknowledged writes (w >= 1) that ${target} lacks; bring it back and run again, or name the replica to promote with --to to accept losing them`,
    );
}

/**
 * aheadOnceHeld is the target of a forced failover without --to once every replica that answers is
 * held: the one held furthest ahead, `target` on a tie. Records may reach a replica after the
 * command read the positions and before its hold (a paused leader's last pulls, a replica's fsync
 * ending); held, no replica moves, so the most advanced is known for sure only now. Before, the
 * command refused with "run it again", which under load could repeat. A replica `eligible` refuses
 * (one resyncing) is not chosen; checkStillForced then refuses as before.
 */
export function aheadOnceHeld(
  target: string,
  heldAt: ReadonlyMap<string, number>,
  eligible: (replica: string) => boolean,
): string {
  let best = target;
  for (const [r, seq] of heldAt) if (seq > (heldAt.get(best) ?? 0) && eligible(r)) best = r;
  return best;
}

/**
 * checkStillForced refuses a forced failover that the shard moved under once its replicas were
 * held: its leader came back meanwhile (it may take writes until the new map reaches it: run a
 * planned failover), or a replica held ahead of the target (records reached it after the command
 * read the positions; promoting the target would cut acknowledged writes off).
 */
export async function checkStillForced(
  scheme: string,
  auth: AdminAuth,
  shard: string,
  leader: string,
  target: string,
  heldAt: ReadonlyMap<string, number>,
): Promise<void> {
  if ((await clusterOf(scheme, leader, auth)) !== undefined)
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `the leader ${leader} of ${shard} answers again (it came back during the failover): nothing was changed; run a planned failover (without --force)`,
    );
  const mine = heldAt.get(target) ?? 0;
  for (const [r, seq] of heldAt)
    if (seq > mine)
      throw new DistkvError(
        'INVALID_ARGUMENT',
        `${r} holds seq ${seq} but ${target} holds seq ${mine} once held (records reached ${r} during the failover): promoting ${target} would lose the writes between; nothing was changed, run it again (omit --to, or give --to ${r})`,
      );
}
