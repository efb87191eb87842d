/**
 * `distkv restore FILE` (docs/operations.md, "Backup and restore"): checks the file's crc and
 * parses it whole before it writes anything (restore-file.ts), refuses a cluster that already holds keys (unless
 * --force) and one whose nodes' limits (`limits` in `/cluster`) refuse a key or value of the file
 * (nothing written), then writes every entry through the client library (restore-writer.ts), which
 * routes each key to its shard in the target cluster (its layout may differ from the source's).
 * A cluster whose node refuses slots because a peer's config gives them another leader
 * (`/cluster` → `peers[].disputed_slots`) is refused before anything is written (SLOTS_DISPUTED):
 * each key of those slots would be refused, and the restore stop part-way. The node asked and
 * every leader the restore writes to are asked: a node sees a dispute only with the peers it has
 * reached since (within a peer check, 2 s; never while it cannot reach them), so the first node
 * alone missed a dispute that a leader refuses keys for. So is a cluster with a shard whose leader
 * started behind its replica (LEADER_BEHIND: it refuses every key of the shard).
 *
 * Failover: a leader that does not answer when the restore starts is waited for as the shard
 * fails over (leader-wait.ts: the map reloaded until its leader answers, up to --wait-ms),
 * and so is one that stops answering mid-way (restore-writer.ts). It used to fail up front, or stop
 * at the first write the failover cut off. Replication is asynchronous: writes the old leader
 * acknowledged may be missing on the replica that took over, so a shard whose leader changed while
 * the restore ran (its writes were refused as by a leader down or moving, or another leader or epoch
 * leads it at the end than at the start) has its keys written again, from the file, to its new
 * leader, until a pass ends with the same leaders it started with (at most MAX_PASSES): the count
 * the restore reports is of keys the cluster holds, not of acknowledgements a failover may have
 * dropped.
 */
import { isUtf8 } from 'node:buffer';
import type { DistkvClient } from '../client/client.js';
import type { ClusterView } from '../client/types.js';
import { DistkvError } from '../errors.js';
import { plural } from '../util/plural.js';
import { readEntries } from './backup-file.js';
import { disputesOf } from './cluster-gather.js';
import { type ClientVerb, positionals, refusedWaitMs } from './connect.js';
import { VERB_SUMMARIES } from './verb-table.js';
import { whileInterruptible } from './interrupt.js';
import {
  behindAdvice,
  FAILOVER_WAIT_MS,
  failoverWaitMs,
  isMoving,
  lookForLeader,
  noLeaderAdvice,
  WAIT_OPTION,
} from './leader-wait.js';
import { newWait, type ProgressLine, stderrProgress } from './progress-line.js';
import { notWaitedLine } from './refusal-wait.js';
import { checkLimits, fuzzyText, openBackup } from './restore-file.js';
import { expiredAt, RestoreWriter, shardOfEntry, stoppedAfter } from './restore-writer.js';
import { SLOW_NOTE_MS, withSlowNote } from './slow-note.js';

/**
 * MAX_PASSES bounds the passes over the file: the first, then one for each time a shard's leader
 * changed during the previous one (its keys written again).
 */
const MAX_PASSES = 4;

/** RESTORE_VERB is `distkv restore FILE`. */
export const RESTORE_VERB: ClientVerb = {
  usage: 'distkv restore FILE',
  summary: VERB_SUMMARIES.restore,
  details:
    'Checks the whole file first (nothing is written from a damaged file, nor from one whose shard\n' +
    'sections are not the shards its summary lists), then routes each key to its shard in the target\n' +
    'cluster, whose layout may differ from the source. A key with a TTL expires at\n' +
    'its instant in the backup (its write carries that instant); one that has expired by the time it is\n' +
    'sent is not written, and counted. Every key gets a new version in the target (a version read from\n' +
    'the source names nothing there). A shard whose leader fails over is followed to the new leader (for\n' +
    `up to --wait-ms without one, ${FAILOVER_WAIT_MS / 1000} s by default; --url need not name it), and its keys are\n` +
    'written again there, at most 4 passes over the file: the old one may have acknowledged writes its\n' +
    'replicas had not copied. A cluster whose nodes disagree about the config (SLOTS_DISPUTED, as any\n' +
    'leader it writes to reports it) is refused before anything is written. Exit 0 when every key was\n' +
    'written, 1 when the cluster is not empty, its nodes disagree, a write failed or no leader answered,\n' +
    '2 for usage mistakes and files that are unreadable, damaged or no backup (an empty one), 130 when\n' +
    'interrupted (Ctrl-C: the keys written so far stay). A node that takes requests and never answers\n' +
    'is retried, saying so after 5 s.',
  options: {
    force: {
      type: 'boolean',
      help: 'restore into a cluster that already holds keys (overwrites the keys of the backup)',
    },
    ...WAIT_OPTION,
  },
  check: (args) => positionals(args, 1, 1, 'distkv restore FILE'),
  run: async (client, args, out, conn) => {
    const [file] = positionals(args, 1, 1, 'distkv restore FILE') as [string];
    // Before the file is opened: a mistyped --wait-ms is a usage mistake, whatever the file holds.
    const waitMs = failoverWaitMs(args);
    const refusedWait = refusedWaitMs(args);
    const backup = await openBackup(file);
    const { fh, size } = backup;
    try {
      const progress = stderrProgress(true);
      conn.progress = progress;
      // Before anything is written: a leader that does not answer is waited for as it fails over.
      // A node that takes requests and never answers (stopped with SIGSTOP) held the restore here
      // for about 50 s without a word: it says it is still trying, as get and backup do.
      const views = await withSlowNote(
        'restore',
        leaderViews(client, progress, waitMs, refusedWait, () => 'nothing was written'),
        false,
        SLOW_NOTE_MS,
        conn.waited,
      );
      refuseDisputes(views);
      refuseBehind(views);
      const view = views[0]!;
      // A node that tells its limits: refuse a file it would refuse part of, before writing any
      // of it (a restore used to write every key up to the first one too large, and stop there).
      const limits = view.limits;
      if (limits !== undefined) await checkLimits(backup, limits);
      if (args.options.get('force') !== true) {
        const scan = client.scanPage('', { limit: 1 });
        const first = (await withSlowNote('restore', scan, false, SLOW_NOTE_MS, conn.waited)).items[0];
        if (first !== undefined)
          throw new DistkvError(
            'CLUSTER_NOT_EMPTY',
            `the cluster already holds keys (e.g. ${JSON.stringify(first.key.length > 64 ? `${first.key.slice(0, 64)}…` : first.key)}): restore into an empty cluster, or pass --force to overwrite the keys of the backup`,
          );
      }
      const rewrittenShards = new Set<number>();
      /** extraPasses counts the passes that wrote shards again (a shard may be written in several). */
      let extraPasses = 0;
      // A wait is drawn at once when it says something new, else as progress is (newWait).
      let shownWait: string | undefined;
      const writer = new RestoreWriter(
        client,
        (waiting) => {
          const fresh = newWait(shownWait, waiting);
          shownWait = waiting;
          progress.show(
            () =>
              `restore: ${plural(writer.written, 'key')} written` +
              (writer.again
                ? `; writing again the keys of shard ${fewShards(rewrittenShards)}: ${writer.rewritten}`
                : '') +
              (waiting === undefined ? '' : `; ${waiting}`),
            fresh,
          );
        },
        waitMs,
      );
      let expired = 0;
      const stopped = (): string => stoppedAfter(writer.written);
      let leaders = leadersOf(views);
      /**
       * pass writes the file's entries (all, or those of `shards` in the target's map) and returns
       * the shards whose leader changed since `leaders` was taken (see the module comment).
       */
      const pass = async (shards?: ReadonlySet<number>): Promise<Set<number>> => {
        writer.moved.clear();
        const map = await client.topology();
        await readEntries(fh, size, async ({ key, value, expiresAtMs }) => {
          if (shards !== undefined && !shards.has(shardOfEntry(map, key))) return;
          // A key keeps its expiry: it expires at the same instant in the restored cluster (its
          // write carries that instant), and one that expired since the backup is not written at all.
          if (expiredAt(expiresAtMs, Date.now())) {
            if (shards === undefined) expired++;
            return;
          }
          await writer.add({ key, text: isUtf8(key) ? key.toString('utf8') : undefined, value, expiresAtMs });
        });
        await writer.flush();
        const now = leadersOf(await leaderViews(client, progress, waitMs, refusedWait, stopped));
        const changed = new Set(writer.moved);
        for (const [idx, leader] of now) if (leaders.get(idx) !== leader) changed.add(idx);
        leaders = now;
        return changed;
      };
      // Ctrl-C leaves the keys written so far (a batch in flight may be applied too): say so.
      const writeAll = async (): Promise<void> => {
        let changed = await pass();
        for (let n = 2; changed.size > 0; n++) {
          if (n > MAX_PASSES)
            throw new DistkvError(
              'SHARD_UNREACHABLE',
              `the leader of shard ${[...changed].join(', ')} changed during each of ${MAX_PASSES} passes over the backup: keys a leader acknowledged before it failed over may be missing; run the restore again with --force once the cluster is stable`,
            );
          for (const idx of changed) rewrittenShards.add(idx);
          extraPasses++;
          writer.again = true;
          changed = await pass(changed);
        }
      };
      await whileInterruptible(
        writeAll,
        () => {
          progress.clear();
        },
        () =>
          `distkv restore: interrupted after writing ${plural(writer.written, 'key')} (and maybe some of those in flight): the cluster holds part of the backup; run the restore again with --force to write all of it`,
      );
      progress.clear();
      const written = writer.written;
      expired += writer.expired;
      const again = [...rewrittenShards].sort((x, y) => x - y);
      if (out.json)
        out.doc({
          file,
          keys: written,
          expired,
          ...(again.length === 0 ? {} : { rewritten: writer.rewritten, rewritten_shards: again }),
          ...(backup.fuzzy.length === 0 ? {} : { fuzzy_shards: backup.fuzzy.map((f) => f.idx) }),
        });
      else
        out.line(
          `restored ${plural(written, 'key')} from ${file}` +
            (expired === 0 ? '' : ` (${expired} more had expired since the backup)`) +
            (again.length === 0
              ? ''
              : `; the leader of shard ${again.join(', ')} changed or restarted during the restore, so ${again.length === 1 ? 'its' : 'their'} ${rewrittenText(writer.rewritten, extraPasses)} to ${again.length === 1 ? 'its' : 'their'} leader now (a leader that fails may have acknowledged writes its replicas had not copied, and one restarted after a crash may have lost some)`) +
            fuzzyText(backup.fuzzy),
        );
      return 0;
    } finally {
      await fh.close();
    }
  },
};

/** SHOWN_SHARDS is how many shards a progress line names; it counts the others ("+N more"). */
const SHOWN_SHARDS = 3;

/**
 * fewShards names the first SHOWN_SHARDS of `shards` in order, and counts the others: "0, 4, 9 +5
 * more". The progress line listed them all, and grew with the cluster until it wrapped (a redraw
 * erases one terminal line only); the report at the end (and --json) lists them all.
 */
function fewShards(shards: Iterable<number>): string {
  const all = [...shards].sort((x, y) => x - y);
  const named = all.slice(0, SHOWN_SHARDS).join(', ');
  return all.length > SHOWN_SHARDS ? `${named} +${all.length - SHOWN_SHARDS} more` : named;
}

/**
 * rewrittenText says how a restore's `writes` wrote shards again, in `passes` passes over the file:
 * "N keys were written again", or with several passes (a shard whose leader changed again while it
 * was written again) "keys were written again in P more passes over the backup (N writes)". A key
 * written again in two passes is two writes: they read as twice the shard's keys.
 */
function rewrittenText(writes: number, passes: number): string {
  if (passes <= 1) return `${plural(writes, 'key')} were written again`;
  return `keys were written again in ${passes} more passes over the backup (${plural(writes, 'write')})`;
}

/**
 * leaderViews returns the `/cluster` of a node of the cluster (anyView: a configured one, else one
 * of the client's map), then that of every other leader it names (the nodes the restore writes to). A
 * leader that does not answer, or no longer leads (a failover), is looked for in a reloaded map for
 * up to `waitMs` (--wait-ms, leader-wait.ts), a refused connection tried again for `refusedWait`
 * (--refused-wait-ms) at most within that; then the restore fails, saying `outcome` (what it had
 * written).
 */
async function leaderViews(
  client: DistkvClient,
  progress: ProgressLine,
  waitMs: number,
  refusedWait: number,
  outcome: () => string,
): Promise<ClusterView[]> {
  const deadline = performance.now() + waitMs;
  let shownWait: string | undefined;
  for (;;) {
    const view = await anyView(client, outcome);
    const shards = view.shards.filter((s) => s.leader.address !== view.node);
    const leaders = [...new Set(shards.map((s) => s.leader.address))];
    let asked: ClusterView[];
    try {
      // A leader refusing connections is tried again for --refused-wait-ms (`refusedWait`) only
      // within what remains of --wait-ms: `--wait-ms 1000` against a dead leader took 10.8 s.
      const refusedWaitMs = Math.max(0, Math.min(refusedWait, Math.round(deadline - performance.now())));
      asked = await Promise.all(leaders.map((leader) => askLeader(client, leader, view, refusedWaitMs)));
    } catch (err) {
      if (!(err instanceof LeaderSilent)) throw err;
      const e = err.cause;
      // No wait asked for: the refusal as it is, not "no leader that answered for 0 s".
      if (isMoving(e) && waitMs === 0)
        throw new DistkvError(
          e.code,
          `leader ${err.leader} could not be asked whether it refuses slots: ${notWaitedLine(e.code, err.leader, e.message)}; ${outcome()}`,
        );
      if (!isMoving(e) || performance.now() >= deadline) {
        const s = shards.find((x) => x.leader.address === err.leader)!;
        throw new DistkvError(
          e instanceof DistkvError ? e.code : 'SHARD_UNREACHABLE',
          `leader ${err.leader} could not be asked whether it refuses slots (${e instanceof Error ? e.message : String(e)}); ${isMoving(e) ? `${noLeaderAdvice(s.idx, s.name, err.leader, waitMs)}; ` : ''}${outcome()}`,
        );
      }
      const waiting = `restore: leader ${err.leader} did not answer (${e.code}); looking for its shard's leader`;
      progress.show(() => waiting, newWait(shownWait, waiting));
      shownWait = waiting;
      await lookForLeader(client);
      continue;
    }
    return [view, ...asked];
  }
}

/**
 * anyView returns `/cluster` of the first configured node (--url) that answers, else of the first
 * node of the client's map that does (client.cluster() asks them in that order): a restore given
 * only the node that failed mid-way still reaches the cluster, whose newer map its writes' retries
 * found. No node answering fails saying `outcome` (what the restore had written).
 */
async function anyView(client: DistkvClient, outcome: () => string): Promise<ClusterView> {
  try {
    return await client.cluster();
  } catch (err) {
    if (!isMoving(err)) throw err;
    throw new DistkvError(err.code, `${err.message}; ${outcome()}`, { cause: err });
  }
}

/** LeaderSilent is a leader's failure to answer `/cluster`, naming it (caught by leaderViews). */
class LeaderSilent extends Error {
  readonly leader: string;
  override readonly cause: unknown;
  constructor(leader: string, cause: unknown) {
    super(`leader ${leader} did not answer`);
    this.leader = leader;
    this.cause = cause;
  }
}

/** askLeader returns `/cluster` of `leader` (a refused connection tried again for `refusedWaitMs`) when it still leads the shards `view` names it for, else throws LeaderSilent. */
async function askLeader(
  client: DistkvClient,
  leader: string,
  view: ClusterView,
  refusedWaitMs: number,
): Promise<ClusterView> {
  let own: ClusterView;
  try {
    own = await client.cluster(leader, { refusedWaitMs });
  } catch (err) {
    throw new LeaderSilent(leader, err);
  }
  // A node the asked node still names, which has adopted a newer map where it leads no more.
  const led = view.shards.filter((s) => s.leader.address === leader).map((s) => s.idx);
  const lost = led.find((idx) => own.shards.find((s) => s.idx === idx)?.leader.address !== leader);
  if (lost !== undefined)
    throw new LeaderSilent(
      leader,
      new DistkvError('WRONG_NODE', `${leader} no longer leads shard ${lost} by its own map`),
    );
  return own;
}

/**
 * leadersOf maps each shard to its leader and the leader's epoch, as the leader itself reports
 * them (`views` from leaderViews): a restore compares them before and after a pass.
 */
function leadersOf(views: readonly ClusterView[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const s of views[0]!.shards) {
    const own = views.find((v) => v.node === s.leader.address)?.shards.find((x) => x.idx === s.idx);
    out.set(s.idx, `${s.leader.address} epoch ${String(own?.epoch ?? s.epoch ?? 0)}`);
  }
  return out;
}

/** refuseDisputes throws SLOTS_DISPUTED, before anything is written, when a node of `views` refuses slots a peer disputes. */
function refuseDisputes(views: readonly ClusterView[]): void {
  const disputes = views.flatMap((v) => disputesOf(v.node, v.peers));
  if (disputes.length === 0) return;
  const named = disputes.map(
    (d) => `${d.node} refuses slots ${d.slots} (node ${d.peer} routes with config ${String(d.peer_version)})`,
  );
  throw new DistkvError(
    'SLOTS_DISPUTED',
    `the cluster's nodes disagree about the config: ${named.join('; ')}; nothing was written: give every node the same sharding.toml and run the restore again`,
  );
}

/**
 * refuseBehind throws LEADER_BEHIND, before anything is written, when a shard's leader (by its own
 * `/cluster` in `views`) started behind its replica (docs/failover.md) and so refuses every key
 * of the shard: a restore with --force used to write the other shards' keys first, then stop at
 * the first key of that one, leaving the cluster with part of the backup.
 */
function refuseBehind(views: readonly ClusterView[]): void {
  const held = views[0]!.shards.flatMap((s) => {
    const own = views.find((v) => v.node === s.leader.address)?.shards.find((x) => x.idx === s.idx);
    const b = own?.leader.behind;
    return b === undefined
      ? []
      : [`shard ${s.idx} (${s.name}): ${behindAdvice(s.name, s.leader.address, b)}`];
  });
  if (held.length > 0)
    throw new DistkvError(
      'LEADER_BEHIND',
      `${held.join('; ')}; nothing was written: run the restore again once every shard has a leader that serves it`,
    );
}
