/**
 * `distkv failover --shard NAME [--to ADDR] [--force] [--force-resyncing]`: moves a shard's
 * leadership to one of its replicas by publishing a live map with a higher version (docs/failover.md).
 *
 * Planned (default), with the leader up:
 *   1. hold writes at the leader (`POST /_admin/fence`): new writes get 503 SWITCHING_LEADER with
 *      Retry-After, never executed; the answer names the leader's last seq L;
 *   2. wait until the target replica (default: the most advanced) has acknowledged L durably, then
 *      hold its following (`POST /_admin/fence` at the target) and read its last seq there;
 *   3. publish map version+1 with the target as leader in a new epoch (`nextEpoch`: above every
 *      epoch a member's map names, numbered after the target): the old leader first (it demotes
 *      itself and follows the target; its held writes turn into redirects), then the target (it
 *      promotes itself), then every other node. If step 2 times out, writes are released and
 *      nothing changes. No acknowledged write is lost: every one of them has a seq <= L. A target
 *      that does not answer the map (killed, timed out) leaves the shard waiting for it
 *      (SHARD_UNREACHABLE: the old leader follows it), never back to the old epoch.
 * Forced (`--force`), when the leader does not answer: the most advanced replica (highest durable
 * ack; every replica must answer, unless --to names the target) is held as in step 2 and promoted
 * in a new epoch. Writes the old leader acknowledged without a replica's ack may be lost; nodes that
 * are down learn the new map from their peers when they come back.
 * Either way a target that reports `resyncing` (rebuilding from a leader snapshot: partial or fuzzy
 * content) is refused unless `--force-resyncing`.
 *
 * The new epoch starts after the target's last seq as the held target answers it: a target still
 * following could apply more of its old leader's records after its ack was read (a forced
 * failover's leader may still reach it, a planned one's fence may run out), and a map starting the
 * epoch below them would label them wrongly and send every replica holding them, and the target
 * after a restart, a fork that is not one. A failed failover releases the target's hold, and so
 * does one stopped by its `signal` (Ctrl-C) before it posts the new map: it releases what it held
 * and throws the signal's reason.
 */
import { randomBytes } from 'node:crypto';
import { Agent } from 'undici';
import { DistkvError } from '../errors.js';
import { highestEpoch, nextEpoch } from '../routing/epoch-numbers.js';
import { type LiveMap, promotedMap } from '../routing/live-map.js';
import {
  ackOf,
  type AdminAuth,
  call,
  clusterOf,
  fence,
  FENCE_SLACK_MS,
  isUnanswered,
  type NodeDoc,
  releaseFence,
} from './failover-calls.js';
import {
  aheadOnceHeld,
  checkForcedTarget,
  checkNotDiskFailed,
  checkNotResyncing,
  checkTargetFollows,
  checkSomeMayLead,
  checkStillForced,
  diskFailure,
  isResyncing,
} from './failover-checks.js';
import { checkShardUnchanged, postRebasing } from './failover-rebase.js';

const POLL_MS = 50;
/** TARGET_SILENT_MS: a target that answers no poll for this long while it catches up has stopped (each poll waits up to 2 s). */
const TARGET_SILENT_MS = 5000;

/** FailoverOptions configure one failover. */
export interface FailoverOptions {
  urls: string[];
  shard: string;
  to?: string;
  force: boolean;
  /** forceResyncing promotes a target that reports `resyncing` (refused otherwise). */
  forceResyncing?: boolean;
  token: string;
  /** ca is the PEM of a private CA that signed https:// nodes' certificates (`--ca`, `DISTKV_CA`). */
  ca?: Buffer;
  timeoutMs: number;
  /** holdSlackMs is how long the holds outlast the catch-up if this command dies (FENCE_SLACK_MS by default; `--hold-slack-ms`). */
  holdSlackMs?: number;
  /**
   * signal stops the failover before it posts the new map: it releases its holds and throws the
   * signal's reason. Once the map is posted it runs to the end. Before, Ctrl-C left the leader's
   * writes held for the whole timeout plus 10 s.
   */
  signal?: AbortSignal;
}

/** FailoverResult describes a completed failover. */
export interface FailoverResult {
  shard: string;
  from: string;
  to: string;
  epoch: number;
  mapVersion: number;
  /** leaderSeq is the old leader's last seq when writes were held (planned only). */
  leaderSeq?: number;
  /** targetSeq is the promoted replica's last seq, read while its following was held. */
  targetSeq: number;
  /** unreached lists nodes that did not take the new map (they learn it from peers later). */
  unreached: string[];
  ms: number;
}

/**
 * failover moves a shard's leader as described above. With `ca` its calls trust that CA: without
 * it, a cluster of https:// nodes under a private CA answered nothing, and the command called the
 * leader down and suggested --force.
 */
export async function failover(o: FailoverOptions): Promise<FailoverResult> {
  if (o.ca === undefined) return failoverWith(o, { token: o.token });
  const dispatcher = new Agent({ connect: { ca: o.ca } });
  try {
    return await failoverWith(o, { token: o.token, dispatcher });
  } finally {
    await dispatcher.close();
  }
}

/** failoverWith is failover with its calls' token and dispatcher. */
async function failoverWith(o: FailoverOptions, auth: AdminAuth): Promise<FailoverResult> {
  const t0 = performance.now();
  const first = new URL(o.urls[0] ?? 'http://127.0.0.1:8080');
  const scheme = first.protocol.replace(':', '');
  let seedDoc: NodeDoc | undefined;
  let failure = '';
  for (const u of o.urls) {
    try {
      seedDoc = (await call(`${scheme}://${new URL(u).host}/cluster`, auth)) as NodeDoc;
      break;
    } catch (err) {
      failure = err instanceof Error ? err.message : String(err);
    }
  }
  // It said only "no node answered /cluster (http://127.0.0.1:8080)": not why, nor how to name a node.
  if (seedDoc === undefined)
    throw new DistkvError(
      'SHARD_UNREACHABLE',
      `no node answered /cluster (${o.urls.join(', ')}): ${failure}. Name a running node of the cluster with --url (or DISTKV_URL)`,
    );
  const shardOf = (m: LiveMap) => m.shards.find((s) => s.name === o.shard || String(s.idx) === o.shard);
  let live = shardOf(seedDoc.map);
  if (live === undefined)
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `--shard ${o.shard}: no such shard (shards: ${seedDoc.map.shards.map((x) => x.name).join(', ')})`,
    );
  // A shard without replicas has nobody to promote: it said "no reachable replica" (exit 1), as if
  // one were down and starting it would help.
  // A `--to` is named first: it is what the command was asked to do.
  if (live.replicas.length === 0)
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `${o.to === undefined ? `--shard ${o.shard}` : `--to ${o.to} is not a replica of ${live.name}`}: ${live.name} has no replicas to promote (its config lists none); give it replicas in sharding.toml first`,
    );
  const members = [live.leader, ...live.replicas];
  const docs = new Map<string, NodeDoc | undefined>();
  await Promise.all(members.map(async (m) => docs.set(m, await clusterOf(scheme, m, auth))));
  // Start from the freshest map any member has.
  let base = seedDoc.map;
  for (const d of docs.values()) if (d !== undefined && d.map.version > base.version) base = d.map;
  live = shardOf(base)!;
  const idx = live.idx;
  const leader = live.leader;
  const leaderUp = docs.get(leader) !== undefined;
  if (o.force && leaderUp)
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `the leader ${leader} of ${live.name} answers: run a planned failover (without --force)`,
    );
  if (!o.force && !leaderUp)
    throw new DistkvError(
      'SHARD_UNREACHABLE',
      `the leader ${leader} of ${live.name} does not answer: use --force to promote a replica without it`,
    );
  const candidates = live.replicas.filter(
    (r) => docs.get(r) !== undefined && ackOf(docs.get(r), idx, r) !== undefined,
  );
  if (o.to === leader)
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `--to ${o.to} already leads ${live.name} (epoch ${String(live.epoch)}): nothing to move; its replicas: ${live.replicas.join(', ')}`,
    );
  if (o.to !== undefined && !live.replicas.includes(o.to))
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `--to ${o.to} is not a replica of ${live.name} (replicas: ${live.replicas.join(', ')})`,
    );
  const ack = (r: string): number => ackOf(docs.get(r), idx, r) ?? 0;
  // A `disk-failed` replica would refuse every write as leader: never chosen (failover-checks.ts).
  const failed = (r: string): boolean => diskFailure(docs.get(r), idx, r) !== undefined;
  const ahead = candidates.filter((r) => !failed(r)).sort((a, b) => ack(b) - ack(a))[0];
  if (o.to === undefined && ahead === undefined) checkSomeMayLead(docs, idx, live.name, candidates);
  let target = o.to ?? ahead;
  if (target !== undefined && docs.get(target) === undefined)
    throw new DistkvError(
      'SHARD_UNREACHABLE',
      `the target ${target} of ${live.name} does not answer: start it, or choose a replica that answers (${candidates.length === 0 ? 'none does' : candidates.join(', ')})`,
    );
  if (target === undefined)
    throw new DistkvError(
      'SHARD_UNREACHABLE',
      `no replica of ${live.name} answers (${live.replicas.join(', ')}): start one, then run the failover again`,
    );
  checkNotDiskFailed(
    docs.get(target),
    idx,
    live.name,
    target,
    candidates.filter((r) => !failed(r)),
  );
  if (o.force) checkForcedTarget(live.name, target, o.to !== undefined, ahead, ack, live.replicas, docs);
  checkNotResyncing(docs.get(target), idx, target, o.forceResyncing === true);
  if (!o.force)
    checkTargetFollows(
      docs.get(leader),
      idx,
      target,
      candidates.filter((r) => r !== target && !failed(r)),
    );

  let leaderSeq: number | undefined;
  let targetSeq = ackOf(docs.get(target), idx, target) ?? 0;
  // This failover's name at every member it holds: a second failover of the shard at once is
  // refused (MAP_CHANGED) at the first member both reach, before it holds or changes anything
  // (map-keeper.ts, store-holds.ts), and a release by this name ends only this failover's holds.
  const by = `failover-${String(process.pid)}-${randomBytes(6).toString('hex')}`;
  const claimed: string[] = [];
  // Every release of what this command held, when the failover does not happen.
  const release = async (): Promise<void> => {
    for (const r of claimed) await releaseFence(scheme, r, idx, auth, by).catch(() => undefined);
    if (leaderSeq !== undefined) await releaseFence(scheme, leader, idx, auth, by).catch(() => undefined);
  };
  o.signal?.throwIfAborted();
  if (!o.force) {
    const held = await fence(scheme, leader, idx, auth, o.timeoutMs + (o.holdSlackMs ?? FENCE_SLACK_MS), by);
    leaderSeq = held.last_seq;
    try {
      // A newer map there stops it only when it changed this shard (failover-rebase.ts).
      await checkShardUnchanged(scheme, auth, idx, live.name, leader, held, base);
      o.signal?.throwIfAborted();
    } catch (err) {
      await release();
      throw err;
    }
    const deadline = performance.now() + o.timeoutMs;
    let answeredAt = performance.now();
    try {
      for (;;) {
        const doc = await unlessAborted(clusterOf(scheme, target, auth), o.signal);
        const seq = ackOf(doc, idx, target);
        if (seq !== undefined) {
          targetSeq = seq;
          answeredAt = performance.now();
          if (seq >= leaderSeq) break;
        }
        // A target that stopped answering (killed, its host gone) catches up no more: the leader's
        // writes were held for the whole --timeout-ms (30 s by default) all the same, and the
        // message then said it "reached seq -1".
        const silentMs = Math.round(performance.now() - answeredAt);
        if (doc === undefined && silentMs > TARGET_SILENT_MS) {
          await releaseFence(scheme, leader, idx, auth, by);
          throw new DistkvError(
            'SHARD_UNREACHABLE',
            `${target} stopped answering while it caught up (at seq ${targetSeq} of ${leaderSeq}; no answer for ${silentMs} ms): writes released, nothing changed; start it and run the failover again, or choose another replica with --to`,
          );
        }
        if (performance.now() > deadline) {
          await releaseFence(scheme, leader, idx, auth, by);
          throw new DistkvError(
            'REPLICATION_TIMEOUT',
            `${target} reached seq ${targetSeq} of ${leaderSeq} within ${o.timeoutMs} ms; writes released, nothing changed`,
          );
        }
        await unlessAborted(new Promise((r) => setTimeout(r, POLL_MS)), o.signal);
      }
    } catch (err) {
      if (o.signal?.aborted === true) await release();
      throw err;
    }
  }
  // The claim: every replica that answers is held in address order (the same order for every
  // failover, so two at once meet at the first member both reach, and one is refused there with
  // nothing held), the target among them: its answer is the seq the new epoch starts after.
  // Without a leader there was nothing to hold: two forced failovers each promoted their own
  // target (test/e2e/failover-forced-concurrent.test.ts).
  try {
    const heldAt = new Map<string, number>();
    for (const r of live.replicas.filter((x) => docs.get(x) !== undefined).sort()) {
      o.signal?.throwIfAborted();
      claimed.push(r);
      const held = await fence(scheme, r, idx, auth, o.holdSlackMs ?? FENCE_SLACK_MS, by);
      await checkShardUnchanged(scheme, auth, idx, live.name, r, held, base);
      heldAt.set(r, held.last_seq);
    }
    // Forced without --to, the replica held furthest ahead is promoted (failover-checks.ts).
    if (o.force && o.to === undefined)
      target = aheadOnceHeld(
        target,
        heldAt,
        (r) => !failed(r) && (o.forceResyncing === true || !isResyncing(docs.get(r), idx, r)),
      );
    targetSeq = heldAt.get(target) ?? targetSeq;
    const ranked = new Map([...heldAt].filter(([r]) => !failed(r)));
    if (o.force) await checkStillForced(scheme, auth, live.name, leader, target, ranked);
    o.signal?.throwIfAborted();
  } catch (err) {
    await release();
    throw err;
  }
  // The fork point: the held target's last seq. The epoch goes above every number a member's map
  // names for the shard (the target's own included: epoch-numbers.ts).
  const above = Math.max(
    ...[...docs.values()].map((d) => {
      const s = d === undefined ? undefined : shardOf(d.map);
      return s === undefined ? 0 : highestEpoch(s);
    }),
  );
  const epoch = nextEpoch(live, target, above);
  const promoted = target;
  const build = (b: LiveMap): LiveMap => promotedMap(b, idx, promoted, epoch, targetSeq);
  let next = build(base);
  const publish = (node: string, map: LiveMap = next) =>
    call(`${scheme}://${node}/_admin/map?by=${by}`, auth, { method: 'POST', body: JSON.stringify(map) });
  /** ours tells whether `held`, a member's map once given `map`, has this failover's outcome. */
  const ours = (held: LiveMap, map: LiveMap): boolean =>
    held.version >= map.version && shardOf(held)?.leader === promoted;
  /**
   * firstPost gives `member` the map while no member has taken it, rebuilt on a newer map that
   * changed only other shards' entries (another shard's failover published first; with etcd it won
   * the compare-and-swap of our version): failover-rebase.ts. Answers the map the member holds.
   */
  const firstPost = async (member: string): Promise<LiveMap> => {
    const r = await postRebasing(
      async (map) => ((await publish(member, map)) as { map: LiveMap }).map,
      { next, base },
      idx,
      build,
      ours,
    );
    next = r.next;
    base = r.base;
    return r.held;
  };
  // Planned, the old leader takes the map first, then the target, then every other node. The target
  // leads from the moment it has the map; the old leader, held, took no write since L, but its hold
  // runs out by itself (`--timeout-ms` + `--hold-slack-ms`, 10 s) when this command dies. With the target first, this
  // command and the target dying together (the same host lost) left the map at a dead target
  // only: the old leader's hold ran out, it took writes in its old epoch, and the target, back,
  // cut them into the old leader's divergence file. With the old leader first it follows the target
  // whatever dies after (a dead target then needs `--force`), and the target has the map from its
  // peers' polls within 2 s if this command dies before it posts it. Forced, the old leader does
  // not answer: the shard's other held replicas take the map before the target, for the same
  // reason (an old leader restarted while the target is down learns the map from them, rather
  // than lead them on in its old epoch once their holds run out).
  // The first member to answer with the map it holds afterwards settles whether the failover
  // happened: with etcd, a change stored first wins over ours, and then nothing was changed here
  // (the held writes are released).
  const unreached: string[] = [];
  const firstTakers = o.force ? claimed.filter((r) => r !== target) : [leader];
  // took: the members of firstTakers that answered that they hold the new map (they follow the target).
  const took: string[] = [];
  const publishToEveryone = () =>
    Promise.all(
      [...new Set(base.shards.flatMap((s) => [s.leader, ...s.replicas]))]
        .filter((n) => n !== target && !took.includes(n))
        .map(async (n) => {
          try {
            await publish(n);
          } catch {
            unreached.push(n);
          }
        }),
    );
  /** changedTo throws MAP_CHANGED, what it held released, when `held` (a member's map after the post) is not ours. */
  const changedTo = async (held: LiveMap): Promise<void> => {
    const now = shardOf(held);
    if (ours(held, next)) return;
    // A leader (or target) the new map moved has dropped its hold already (it refuses the call then).
    await release();
    throw new DistkvError(
      'MAP_CHANGED',
      `the live map changed during the failover: version ${held.version} names ${now?.leader ?? 'no node'} as the leader of ${live.name}; nothing was changed, run it again if still needed`,
    );
  };
  /** notTaken is the failure when the target did not take the map (`err`) once it may lead, or others follow it. */
  const notTaken = (err: unknown): DistkvError => {
    const state = `${target} did not ${isUnanswered(err) ? 'answer when given' : 'take'} the new map (version ${next.version}, epoch ${epoch}; ${(err as Error).message})`;
    const tail =
      (unreached.length === 0 ? '' : ` (not reached: ${unreached.join(', ')})`) +
      `; ${live.name} is led by ${target} once it answers (it takes the map from its peers), and its writes wait until then. ` +
      `If it stays down, run \`distkv failover --shard ${live.name} --force\` to promote a replica that answers`;
    const followers = o.force
      ? `${took.join(', ')} follow${took.length === 1 ? 's' : ''}`
      : `the old leader ${leader} follows`;
    return took.length > 0
      ? new DistkvError(
          'SHARD_UNREACHABLE',
          `${state}: the map is published, ${followers} ${target} and the other nodes were given it${tail}`,
        )
      : new DistkvError(
          'OUTCOME_UNKNOWN',
          `${state}: it may have taken it, so the map was posted to the other nodes too${tail}`,
        );
  };
  for (const member of firstTakers) {
    let held: LiveMap | undefined;
    try {
      held = took.length === 0 ? await firstPost(member) : ((await publish(member)) as { map: LiveMap }).map;
    } catch (err) {
      // The first one's refusal: nobody has the map, nothing changed. No answer (killed right
      // then): planned, the old leader took no write since L, so the target goes on to lead and
      // the old leader learns the map from peers; forced, the next replica is given it.
      if (took.length === 0 && !isUnanswered(err)) {
        await release();
        throw err;
      }
      continue;
    }
    if (took.length === 0) await changedTo(held);
    took.push(member);
  }
  let targetHeld: LiveMap | undefined;
  try {
    targetHeld =
      took.length === 0 ? await firstPost(target) : ((await publish(target)) as { map: LiveMap }).map;
  } catch (err) {
    // The target refused the map (its own error answer) before any other member took it: nothing changed.
    if (took.length === 0 && !isUnanswered(err)) {
      await release();
      throw err;
    }
    // Others follow the target already, or the target may have taken the map without
    // answering (killed, timed out) and lead in the new epoch: either way the writes stay held
    // and the map goes to everyone, never back to the old epoch.
    await publishToEveryone();
    throw notTaken(err);
  }
  if (took.length === 0) await changedTo(targetHeld);
  await publishToEveryone();
  return {
    shard: live.name,
    from: leader,
    to: target,
    epoch,
    mapVersion: next.version,
    ...(leaderSeq === undefined ? {} : { leaderSeq }),
    targetSeq,
    unreached,
    ms: Math.round(performance.now() - t0),
  };
}

/**
 * unlessAborted answers what `p` answers, or rejects with the signal's reason as soon as it is
 * aborted (`p` runs on; its answer is dropped): a wait that Ctrl-C ends at once.
 */
function unlessAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => {
      signal.removeEventListener('abort', onAbort);
    });
  });
}
