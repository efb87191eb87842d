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
 *      epoch a member's map names, numbered after the target): the target first (it promotes
 *      itself), then every other node (the old leader demotes itself and follows the target, which
 *      releases its held writes as redirects). If step 2 times out, writes are released and nothing
 *      changes. No acknowledged write is lost: every one of them has a seq <= L.
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
 * after a restart, a fork that is not one. A failed failover releases the target's hold.
 */
import { randomBytes } from 'node:crypto';
import { endpointsFromEnv, parseEndpoint } from '../client/endpoint.js';
import { DistkvError, isErrorCode } from '../errors.js';
import { highestEpoch, nextEpoch } from '../routing/epoch-numbers.js';
import { type LiveMap, promotedMap } from '../routing/live-map.js';
import {
  formatOptions,
  type OptionSpec,
  parseArgs,
  stringOption,
  UsageError,
  listOption,
  intOption,
  usageOnRefusal,
} from './args.js';

const NODE_TIMEOUT_MS = 2000;
const POLL_MS = 50;
/** FENCE_SLACK_MS is how long past the catch-up timeout the leader holds writes if this command dies. */
const FENCE_SLACK_MS = 10000;
/**
 * MAX_TIMEOUT_MS bounds --timeout-ms: the leader's hold lasts the timeout plus FENCE_SLACK_MS, and a
 * node takes a hold of at most an hour (src/http/failover-routes.ts, MAX_FENCE_MS). Past it the
 * command failed with INTERNAL and the node's 400 about an `ms` parameter the user never gave.
 */
const MAX_TIMEOUT_MS = 3600000 - FENCE_SLACK_MS;

const OPTIONS: Record<string, OptionSpec> = {
  url: {
    type: 'list',
    valueName: 'URL',
    help: 'a node of the cluster, HOST:PORT (repeatable; default env DISTKV_URL, else 127.0.0.1:8080)',
  },
  shard: { type: 'string', valueName: 'NAME', help: 'the shard to move (its name or idx)' },
  to: {
    type: 'string',
    valueName: 'ADDR',
    help: 'the replica to promote (default: the most advanced); with --force, never one behind another that answers',
  },
  force: {
    type: 'boolean',
    help: 'promote without the leader (when it is unreachable): w=0 writes no replica copied are lost; refused while a replica does not answer unless --to names the target',
  },
  'force-resyncing': {
    type: 'boolean',
    help: 'promote the target even while it resyncs from a leader snapshot (its content may be partial or fuzzy until the resync ends)',
  },
  'timeout-ms': {
    type: 'string',
    valueName: 'MS',
    help: `how long the target may take to catch up (default 30000, at most ${MAX_TIMEOUT_MS}; 0: only if it already has)`,
  },
  token: { type: 'string', valueName: 'TOKEN', help: 'bearer token (or env DISTKV_TOKEN)' },
  json: { type: 'boolean', help: 'print JSON' },
  help: { type: 'boolean', help: 'show this help' },
};

/** FailoverOptions configure one failover. */
export interface FailoverOptions {
  urls: string[];
  shard: string;
  to?: string;
  force: boolean;
  /** forceResyncing promotes a target that reports `resyncing` (refused otherwise). */
  forceResyncing?: boolean;
  token: string;
  timeoutMs: number;
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

interface NodeDoc {
  map: LiveMap;
  shards: {
    idx: number;
    replicas: { address: string; local: boolean; acked_seq?: number; state?: string }[];
  }[];
}

async function call(url: string, token: string, init: RequestInit = {}): Promise<unknown> {
  const res = await fetch(url, {
    ...init,
    headers: {
      ...(token === '' ? {} : { authorization: `Bearer ${token}` }),
      'content-type': 'application/json',
    },
    signal: AbortSignal.timeout(NODE_TIMEOUT_MS),
  });
  const text = await res.text();
  if (!res.ok) throw refusal(`${init.method ?? 'GET'} ${url}`, res.status, text);
  return JSON.parse(text) as unknown;
}

/**
 * refusal rebuilds a node's error answer with its own code (STARTING while it starts,
 * UNAUTHORIZED without the token), naming the call. A 400 stays INTERNAL: the node refused what
 * this command built, which is no mistake of the user's (and must not exit 2).
 */
function refusal(call: string, status: number, text: string): DistkvError {
  let wire: { code?: unknown; message?: unknown } | undefined;
  try {
    wire = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
  } catch {
    wire = undefined;
  }
  if (status !== 400 && isErrorCode(wire?.code) && typeof wire.message === 'string')
    return new DistkvError(wire.code, `${call}: ${wire.message}`);
  return new DistkvError('INTERNAL', `${call}: HTTP ${status} ${text.trim()}`);
}

async function clusterOf(scheme: string, node: string, token: string): Promise<NodeDoc | undefined> {
  try {
    return (await call(`${scheme}://${node}/cluster`, token)) as NodeDoc;
  } catch {
    return undefined;
  }
}

/** ackOf is the durable ack of replica `address` of shard `idx`, as its own node reports it. */
function ackOf(doc: NodeDoc | undefined, idx: number, address: string): number | undefined {
  const r = doc?.shards.find((s) => s.idx === idx)?.replicas.find((x) => x.address === address && x.local);
  return r?.acked_seq;
}

/**
 * checkNotResyncing refuses a target that reports `resyncing` (unless `forced`): it is rebuilding
 * from a leader snapshot, so its content is partial (the load is under way) or fuzzy (until it
 * replays the log through the snapshot's exactSeq). Promoted mid-load, it answered UNAVAILABLE
 * until a restart, and then its worker refuses to lead over the unfinished load.
 */
function checkNotResyncing(doc: NodeDoc | undefined, idx: number, target: string, forced: boolean): void {
  const r = doc?.shards.find((s) => s.idx === idx)?.replicas.find((x) => x.address === target && x.local);
  if (forced || r?.state !== 'resyncing') return;
  throw new DistkvError(
    'INVALID_ARGUMENT',
    `${target} is resyncing from a leader snapshot (at seq ${r.acked_seq ?? 0}): its content is partial or fuzzy until the resync ends; wait for it (distkv cluster shows its state), give another replica with --to, or pass --force-resyncing to promote it anyway`,
  );
}

/**
 * releaseFence lets the leader take writes (or the target replica follow) again after a failover
 * that did not happen; at the leader, `by` names this failover, so it never releases another's hold.
 */
async function releaseFence(
  scheme: string,
  node: string,
  idx: number,
  token: string,
  by?: string,
): Promise<void> {
  const named = by === undefined ? '' : `&by=${by}`;
  await call(`${scheme}://${node}/_admin/fence?shard=${idx}&on=0${named}`, token, { method: 'POST' });
}

/** FenceAnswer is what /_admin/fence answers (`map_version` is missing from nodes before it). */
interface FenceAnswer {
  last_seq: number;
  map_version?: number;
}

/**
 * fence holds shard `idx` at `node` for this failover (`by`) during `ms`: a leader's writes, or a
 * replica's following (its last seq then stays put).
 */
async function fence(
  scheme: string,
  node: string,
  idx: number,
  token: string,
  ms: number,
  by: string,
): Promise<FenceAnswer> {
  const url = `${scheme}://${node}/_admin/fence?shard=${idx}&on=1&ms=${ms}&by=${by}`;
  return (await call(url, token, { method: 'POST' })) as FenceAnswer;
}

/**
 * checkUnchanged refuses to go on once a member held answers a map newer than the one this
 * failover started from: another changed the shard meanwhile (it finished before this one held).
 */
function checkUnchanged(shard: string, node: string, held: FenceAnswer, version: number): void {
  if (held.map_version !== undefined && held.map_version > version)
    throw new DistkvError(
      'MAP_CHANGED',
      `the live map changed during the failover: ${node} routes ${shard} with map version ${held.map_version}, this failover started from ${version} (another failover ran meanwhile); nothing was changed, check \`distkv cluster\` and run it again if still needed`,
    );
}

/**
 * checkForcedTarget refuses a forced promotion that would drop acknowledged writes without the
 * operator choosing it: a `w >= 1` write is held by some replica, so only the most advanced one
 * holds them all. A --to replica behind another that answers is refused (INVALID_ARGUMENT); with
 * a replica that does not answer, the most advanced is unknown, and the pick is refused
 * (SHARD_UNREACHABLE) unless --to names the target: naming it accepts losing what only the
 * silent replicas hold (they write it to a divergence file when they come back).
 */
function checkForcedTarget(
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
 * checkStillForced refuses a forced failover that the shard moved under once its replicas were
 * held: its leader came back meanwhile (it may take writes until the new map reaches it: run a
 * planned failover), or a replica held ahead of the target (records reached it after the command
 * read the positions; promoting the target would cut acknowledged writes off).
 */
async function checkStillForced(
  scheme: string,
  token: string,
  shard: string,
  leader: string,
  target: string,
  heldAt: ReadonlyMap<string, number>,
): Promise<void> {
  if ((await clusterOf(scheme, leader, token)) !== undefined)
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

/** failover moves a shard's leader as described above. */
export async function failover(o: FailoverOptions): Promise<FailoverResult> {
  const t0 = performance.now();
  const first = new URL(o.urls[0] ?? 'http://127.0.0.1:8080');
  const scheme = first.protocol.replace(':', '');
  let seedDoc: NodeDoc | undefined;
  for (const u of o.urls)
    if ((seedDoc = await clusterOf(scheme, new URL(u).host, o.token)) !== undefined) break;
  if (seedDoc === undefined)
    throw new DistkvError('SHARD_UNREACHABLE', `no node answered /cluster (${o.urls.join(', ')})`);
  const shardOf = (m: LiveMap) => m.shards.find((s) => s.name === o.shard || String(s.idx) === o.shard);
  let live = shardOf(seedDoc.map);
  if (live === undefined) throw new DistkvError('INVALID_ARGUMENT', `--shard ${o.shard}: no such shard`);
  const members = [live.leader, ...live.replicas];
  const docs = new Map<string, NodeDoc | undefined>();
  await Promise.all(members.map(async (m) => docs.set(m, await clusterOf(scheme, m, o.token))));
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
  if (o.to !== undefined && !live.replicas.includes(o.to))
    throw new DistkvError(
      'INVALID_ARGUMENT',
      `--to ${o.to} is not a replica of ${live.name} (replicas: ${live.replicas.join(', ')})`,
    );
  const ack = (r: string): number => ackOf(docs.get(r), idx, r) ?? 0;
  const ahead = [...candidates].sort((a, b) => ack(b) - ack(a))[0];
  const target = o.to ?? ahead;
  if (target === undefined || docs.get(target) === undefined)
    throw new DistkvError('SHARD_UNREACHABLE', `no reachable replica of ${live.name} to promote`);
  if (o.force) checkForcedTarget(live.name, target, o.to !== undefined, ahead, ack, live.replicas, docs);
  checkNotResyncing(docs.get(target), idx, target, o.forceResyncing === true);

  let leaderSeq: number | undefined;
  let targetSeq = ackOf(docs.get(target), idx, target) ?? 0;
  // This failover's name at every member it holds: a second failover of the shard at once is
  // refused (MAP_CHANGED) at the first member both reach, before it holds or changes anything
  // (map-keeper.ts, store-holds.ts), and a release by this name ends only this failover's holds.
  const by = `failover-${String(process.pid)}-${randomBytes(6).toString('hex')}`;
  const claimed: string[] = [];
  // Every release of what this command held, when the failover does not happen.
  const release = async (): Promise<void> => {
    for (const r of claimed) await releaseFence(scheme, r, idx, o.token, by).catch(() => undefined);
    if (leaderSeq !== undefined) await releaseFence(scheme, leader, idx, o.token, by).catch(() => undefined);
  };
  if (!o.force) {
    const held = await fence(scheme, leader, idx, o.token, o.timeoutMs + FENCE_SLACK_MS, by);
    leaderSeq = held.last_seq;
    try {
      checkUnchanged(live.name, leader, held, base.version);
    } catch (err) {
      await release();
      throw err;
    }
    const deadline = performance.now() + o.timeoutMs;
    for (;;) {
      targetSeq = ackOf(await clusterOf(scheme, target, o.token), idx, target) ?? -1;
      if (targetSeq >= leaderSeq) break;
      if (performance.now() > deadline) {
        await releaseFence(scheme, leader, idx, o.token, by);
        throw new DistkvError(
          'REPLICATION_TIMEOUT',
          `${target} reached seq ${targetSeq} of ${leaderSeq} within ${o.timeoutMs} ms; writes released, nothing changed`,
        );
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
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
      claimed.push(r);
      const held = await fence(scheme, r, idx, o.token, FENCE_SLACK_MS, by);
      checkUnchanged(live.name, r, held, base.version);
      heldAt.set(r, held.last_seq);
    }
    targetSeq = heldAt.get(target) ?? targetSeq;
    if (o.force) await checkStillForced(scheme, o.token, live.name, leader, target, heldAt);
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
  const next = promotedMap(base, idx, target, epoch, targetSeq);
  const publish = (node: string) =>
    call(`${scheme}://${node}/_admin/map?by=${by}`, o.token, { method: 'POST', body: JSON.stringify(next) });
  // The target answers with the map it holds afterwards: with etcd, one a concurrent change stored
  // first wins over ours, and then this failover did not happen (the held writes are released).
  let held: LiveMap;
  try {
    held = ((await publish(target)) as { map: LiveMap }).map;
  } catch (err) {
    await release();
    throw err;
  }
  const now = shardOf(held);
  if (held.version < next.version || now?.leader !== target) {
    // A leader (or target) the new map moved has dropped its hold already (it refuses the call then).
    await release();
    throw new DistkvError(
      'MAP_CHANGED',
      `the live map changed during the failover: version ${held.version} names ${now?.leader ?? 'no node'} as the leader of ${live.name}; nothing was changed, run it again if still needed`,
    );
  }
  const everyone = [...new Set(base.shards.flatMap((s) => [s.leader, ...s.replicas]))].filter(
    (n) => n !== target,
  );
  const unreached: string[] = [];
  await Promise.all(
    everyone.map(async (n) => {
      try {
        await publish(n);
      } catch {
        unreached.push(n);
      }
    }),
  );
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

/** failoverCommand is the `distkv failover` verb. */
export async function failoverCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, OPTIONS);
  if (args.options.get('help') === true) {
    process.stdout.write(
      `Usage: distkv failover --shard NAME [--to ADDR] [--force] [--force-resyncing]\n\nMove a shard's leadership to a replica (planned, or --force without the leader).\n\nOptions:\n${formatOptions(OPTIONS)}\n`,
    );
    return 0;
  }
  if (args.positionals.length > 0)
    throw new UsageError(`unexpected argument "${args.positionals[0]!}": options only (--shard NAME)`);
  const shard = stringOption(args, 'shard');
  if (shard === undefined) throw new UsageError('--shard is required');
  const to = stringOption(args, 'to');
  const given = listOption(args, 'url');
  const urls = given.length > 0 ? given : endpointsFromEnv(process.env.DISTKV_URL);
  // failover's INVALID_ARGUMENT names a --shard, --to or --force that does not fit the cluster: exit 2.
  const r = await usageOnRefusal(() =>
    failover({
      urls: (urls.length > 0 ? urls : ['127.0.0.1:8080']).map(parseEndpoint),
      shard,
      ...(to === undefined ? {} : { to }),
      force: args.options.get('force') === true,
      forceResyncing: args.options.get('force-resyncing') === true,
      token: stringOption(args, 'token') ?? process.env.DISTKV_TOKEN ?? '',
      timeoutMs: intOption(args, 'timeout-ms', { min: 0, max: MAX_TIMEOUT_MS, what: ' ms' }) ?? 30000,
    }),
  );
  if (args.options.get('json') === true) process.stdout.write(`${JSON.stringify(r)}\n`);
  else
    process.stdout.write(
      `${r.shard}: leader ${r.from} → ${r.to} in epoch ${r.epoch} (map version ${r.mapVersion}, ${r.ms} ms; promoted at seq ${r.targetSeq})` +
        (r.unreached.length === 0
          ? '\n'
          : `\nnot reached (they learn it from peers): ${r.unreached.join(', ')}\n`),
    );
  return 0;
}
