/**
 * Waiting out a failover, for the CLI verbs that talk to a shard's leader over many requests
 * (`distkv backup`, `distkv restore`): a refusal of a leader that is down, stopping or handing the
 * shard over (`MOVING`) is tried again, after FAILOVER_RETRY_MS and a reload of the map, at the
 * leader the reloaded map names, for up to --wait-ms (FAILOVER_WAIT_MS by default) without progress (a batch operation a
 * node forwarded to a leader that did not answer, OUTCOME_UNKNOWN, too: restore-writer.ts writes
 * its entry again, as it does one whose own connection was cut) (an automatic failover
 * takes a few seconds: docs/failover.md); then the verb fails saying what to do (`noLeaderAdvice`).
 */
import type { DistkvClient } from '../client/client.js';
import type { ClusterShard } from '../client/types.js';
import { DistkvError } from '../errors.js';
import type { ShardMap } from '../routing/shard-map.js';
import { intOption, type OptionSpec, type ParsedArgs } from './args.js';

/** FAILOVER_WAIT_MS bounds how long a shard whose leader is down or moving is tried again (a failover takes a few seconds, docs/failover.md). */
export const FAILOVER_WAIT_MS = 30000;
/** MAX_FAILOVER_WAIT_MS bounds --wait-ms (an hour: longer, a shard with no leader is an outage to fix, not to wait out). */
export const MAX_FAILOVER_WAIT_MS = 3_600_000;

/** WAIT_OPTION is the --wait-ms option of backup and restore: FAILOVER_WAIT_MS, as the operator sets it. */
export const WAIT_OPTION: Record<string, OptionSpec> = {
  'wait-ms': {
    type: 'string',
    valueName: 'MS',
    help: `how long a shard with no leader that answers (down, or failing over), or whose leader is busy (REPLICATION_BUSY), is waited for before the command fails (default ${FAILOVER_WAIT_MS}; 0: fail at the first refusal)`,
  },
};

/** failoverWaitMs returns --wait-ms (FAILOVER_WAIT_MS when absent); a value out of 0..MAX_FAILOVER_WAIT_MS is a UsageError naming the bound. */
export function failoverWaitMs(args: ParsedArgs): number {
  return intOption(args, 'wait-ms', { min: 0, max: MAX_FAILOVER_WAIT_MS, what: ' ms' }) ?? FAILOVER_WAIT_MS;
}
/** FAILOVER_RETRY_MS spaces the attempts while a shard has no leader that answers. */
export const FAILOVER_RETRY_MS = 500;
/**
 * MOVING are the refusals of a leader that is down, stopping or handing the shard over: a newer map
 * names where to go; and REPLICATION_BUSY, a leader serving as many snapshot streams as it takes at
 * once (src/http/repl-admission.ts): the same leader is asked again after its Retry-After. What
 * each says and does: refusal-wait.ts.
 */
export const MOVING: ReadonlySet<string> = new Set([
  'REPLICATION_BUSY',
  'SHARD_UNREACHABLE',
  'OUTCOME_UNKNOWN',
  'WRONG_NODE',
  'SWITCHING_LEADER',
  'DRAINING',
  'STARTING',
  'UNAVAILABLE',
]);

/** isMoving reports whether `err` is a refusal in MOVING. */
export function isMoving(err: unknown): err is DistkvError {
  return err instanceof DistkvError && MOVING.has(err.code);
}

/** lookForLeader waits FAILOVER_RETRY_MS, reloads the client's map (a node that does not answer is no reason to stop) and returns it. */
export async function lookForLeader(client: DistkvClient): Promise<ShardMap> {
  await new Promise((r) => setTimeout(r, FAILOVER_RETRY_MS));
  await client.reload().catch(() => undefined);
  return client.topology();
}

/** BehindView is a leader's `behind` in `/cluster` (a leader that started behind its replica). */
type BehindView = NonNullable<ClusterShard['leader']['behind']>;

/**
 * behindAdvice says that shard `name`'s leader `leader` started behind its replica (`b`, from its
 * `/cluster`) and serves nothing of the shard, and what brings the shard back: `distkv failover`
 * to the replica, or nothing when the leader gave up its key in etcd (the replica takes it over).
 */
export function behindAdvice(name: string, leader: string, b: BehindView): string {
  const next =
    b.handing_over === true
      ? 'it gave up its leader key in etcd, and the most advanced replica takes the shard over by itself'
      : `run distkv failover --shard ${name} --to ${b.replica}`;
  return `its leader ${leader} started behind its replica, with records through seq ${b.leader_seq} only: its replica ${b.replica} holds seq ${b.replica_seq}; it serves nothing of the shard; ${next}`;
}

/** noLeaderAdvice says that shard `idx` had no leader that answered for `waitMs` (--wait-ms), and what to do. */
export function noLeaderAdvice(idx: number, name: string, leader: string, waitMs: number): string {
  return `shard ${idx} (${name}) had no leader that answered for ${waitMs / 1000} s: start ${leader} again or fail the shard over (distkv failover --shard ${name}, --force while its leader is down)`;
}
