/**
 * The cluster verbs of `distkv`: `cluster` (the topology with every node's view of its own stores:
 * last seqs, replica state and lag, nodes that do not answer) and `stats` (a node's counters).
 * `cluster` shows the newest live map any node answered with (the first node may not have learned
 * it yet, or be cut off from its peers) and names the nodes that route with an older one.
 * It also prints the slots a node refuses because a peer's config gives them another leader
 * (`/cluster` → `peers[].disputed_slots`; docs/operations.md).
 * Exit codes: 0 healthy; 1 not healthy (one line on stderr per problem, cluster-health.ts: a node
 * is down, a leader is held behind its replica or holds no etcd lease, a slot is refused that way,
 * a replica does not follow its leader, its lag unknown) or the request failed; 2 usage (main.ts).
 * A replica's leader says what it heard of its pulls (`leader_view`), shown with the replica.
 * A shard whose config names another leader than the live map (`config_leader`) gets a note
 * saying the live map keeps its leader and how to move it (`configLeaderHint`): an edit of
 * sharding.toml that names another leader is not a failover, and nothing said so. The note does
 * not urge the move: after a failover the config names the old leader too.
 */
import { type ClientVerb, positionals } from './connect.js';
import { VERB_SUMMARIES } from './verb-table.js';
import { behindAdvice } from './leader-wait.js';
import {
  type Dispute,
  gatherCluster,
  STARTING_POLL_MS,
  STARTING_WAIT_MS,
  startingOf,
} from './cluster-gather.js';
import { leaderNote, type ReplicaHealth, replicaProblem } from './cluster-health.js';
import { differentAuthProblem, differentConfigProblem } from './cluster-config-split.js';
import { tlsProblem } from './cluster-tls.js';
import { differentEtcdProblem } from './cluster-etcd.js';

/** LeaderlessShard is what leaderlessAdvice reads of a shard whose leader is down. */
export interface LeaderlessShard {
  name: string;
  leader: { address: string };
  replicas: readonly { address: string; down: boolean }[];
}

/**
 * leaderlessAdvice says what an operator can do about a shard whose leader does not answer: its
 * slots take no writes until the leader is back or a replica is promoted (docs/failover.md). The
 * table alone said `NO LEADER` and left the way out to the docs, at the moment it is needed.
 */
export function leaderlessAdvice(s: LeaderlessShard, coordination?: { lease_ttl_ms: number }): string {
  const head = `${s.name} takes no writes: its leader ${s.leader.address} is down.`;
  if (s.replicas.length === 0) return `${head} Start it again (the shard has no replica to promote).`;
  const silent = s.replicas.filter((r) => r.down).map((r) => r.address);
  if (silent.length === s.replicas.length)
    return `${head} No replica answers either: start the leader or a replica again.`;
  const promote = `distkv failover --shard ${s.name} --force`;
  // With etcd the most advanced replica is promoted by itself a lease and a few seconds after the
  // leader went (docs/failover.md): the command is the way out only if that does not happen.
  if (silent.length === 0 && coordination !== undefined)
    return `${head} The cluster runs [coordination]: the most advanced replica takes it over by itself within about ${String(Math.ceil(coordination.lease_ttl_ms / 1000) + 5)} s (the ${String(coordination.lease_ttl_ms)} ms lease and a few seconds); run distkv cluster again. If none has by then, start the leader again or run ${promote} (w=0 writes no replica copied are lost)`;
  return silent.length === 0
    ? `${head} Start it again, or promote the most advanced replica: ${promote} (w=0 writes no replica copied are lost; with [coordination] a replica takes over by itself)`
    : `${head} Start it again, or bring ${silent.join(', ')} back and run ${promote}; ${promote} --to ADDR promotes a replica that answers, losing what only the silent one holds (docs/failover.md)`;
}

/**
 * configLeaderHint is the line for a shard whose config names `config_leader` as its leader while
 * the live map keeps another (docs/failover.md, "How a map spreads"): not a problem, the exit
 * status does not change. It names the failover that moves the shard back, unless that node is a
 * `disk-failed` replica now (a leader whose store directory was removed, failed over) or one whose
 * store did not open (`failed`): the failover would be refused, so it says to repair it first.
 */
export function configLeaderHint(s: {
  name: string;
  epoch?: number;
  config_leader: string;
  leader: { address: string };
  replicas?: readonly Pick<ReplicaHealth, 'address' | 'state' | 'local_error'>[];
}): string {
  const back = s.replicas?.find((r) => r.address === s.config_leader);
  const move =
    back?.state === 'disk-failed' || back?.state === 'failed'
      ? `${s.config_leader} is ${back.state}${back.local_error === undefined ? '' : ` (${back.local_error.slice(0, 64)})`}: a failover to it is refused until its store is repaired, as its problem line says`
      : `to move it: distkv failover --shard ${s.name} --to ${s.config_leader}`;
  return `note: ${s.name} is led by ${s.leader.address} (the live map, epoch ${String(s.epoch ?? 0)}) while the config names ${s.config_leader}: a failover moved it, or the config was edited; the live map decides who leads and an edit of the config moves nothing (${move})`;
}

/** MergedShard is what problemsOf reads of a shard of `distkv cluster`'s merged view. */
interface MergedShard {
  name: string;
  leader: {
    address: string;
    down: boolean;
    no_lease?: boolean;
    behind?: { replica: string };
    state?: string;
    error?: string;
    local_error?: string;
  };
  replicas: readonly ReplicaHealth[];
}

/**
 * problemsOf lists what makes the cluster not healthy (cluster-health.ts), one line each: a shard
 * without a leader that serves it, a replica that does not answer or does not follow, a node that
 * refuses slots.
 */
export function problemsOf(shards: readonly MergedShard[], disputes: readonly Dispute[]): string[] {
  const out: string[] = [];
  for (const s of shards) {
    const l = s.leader;
    if (l.down) out.push(`${s.name}: no leader: its leader ${l.address} does not answer`);
    else if (l.state === 'failed')
      out.push(
        `${s.name}: no leader: its leader's store on ${l.address} did not open: ${l.error ?? 'no reason given'}`,
      );
    else if (l.behind !== undefined)
      out.push(
        `${s.name}: no leader: its leader ${l.address} is held behind its replica ${l.behind.replica}`,
      );
    else if (l.no_lease === true)
      out.push(
        `${s.name}: no leader: its leader ${l.address} holds no lease in etcd${l.local_error === 'STORE_DIR_LOST' ? ' (it gave its key up: its store directory was lost)' : ''}`,
      );
    else if (l.local_error !== undefined)
      out.push(
        `${s.name}: no leader serves writes: its leader's store on ${l.address} refuses every write (${l.local_error.slice(0, 64)}): ${storeErrorAdvice(l.local_error)}`,
      );
    for (const r of s.replicas) {
      const p = replicaProblem(s.name, r);
      if (p !== undefined) out.push(p);
    }
  }
  for (const d of disputes)
    out.push(`${d.node} refuses slots ${d.slots}: ${d.peer} routes with another config (CONFIG MISMATCH)`);
  return out;
}

/**
 * storeErrorAdvice says what to do about a store that refuses every write with `code` (a leader's
 * `local_error` in /cluster): its directory is gone, so is what it holds at the next start.
 */
export function storeErrorAdvice(code: string): string {
  if (code === 'STORE_DIR_LOST')
    return 'its store directory was removed or replaced while the node runs, and what it holds is gone at the next start; copy its data out now (distkv backup, or distkv failover to a replica), then stop that node, start it with --repair (which opens the store empty) and restore';
  if (code === 'CORRUPTION')
    return "a run of the store is damaged and its compaction cannot go on, which no retry mends (its log names the file); fail the shard over to a replica (distkv failover --shard NAME --to REPLICA), then stop that node, move the store's directory aside and start it with --repair: it opens empty and copies the shard from its new leader";
  return "its own disk refuses the store's writes (its log and /stats name the directory and the error)";
}

/** CLUSTER_DETAILS is the part of `distkv cluster --help` after its summary: what its exit status says. */
export const CLUSTER_DETAILS = `Every node is asked (5 s each); a replica is shown with its state and lag as its own node
sees it, and with what its leader heard of its pulls when its leader runs in another process.

Exit status: 0 healthy: every shard's leader serves it and every replica follows it.
1 not healthy, one line on stderr per problem ("distkv cluster: not healthy: ..."): a node does
not answer, a shard has no leader that serves it (down, held behind its replica, no etcd lease),
its leader's store did not open (STORE FAILED) or refuses every write (NO WRITES: its directory
was removed while it runs, STORE_DIR_LOST; its disk is full, DISK_FULL, until it has room again;
its flushes or compactions fail: the code they refuse writes with), a replica does not follow its leader (lag
unknown: disconnected, starting, held; disk-failed: its own disk failed, with the code, e.g.
DISK_FULL, or STORE_DIR_LOST) or is still
resyncing from a snapshot (said so: it serves no reads yet), a node refuses slots of a config
mismatch, nodes talk to different etcd clusters or route with different config files; also when
no node answered at all. 2 usage.
A node still starting (its stores opening) or a replica that has not yet reached its leader
since it started is asked again for up to 15 s (said once on stderr) before it counts.
So \`distkv cluster > /dev/null && echo healthy\` is a health check.`;

/** CLUSTER_VERBS are the cluster verbs, by name. */
export const CLUSTER_VERBS: Record<string, ClientVerb> = {
  cluster: {
    usage: 'distkv cluster',
    summary: VERB_SUMMARIES.cluster,
    details: CLUSTER_DETAILS,
    options: {},
    check: (args) => positionals(args, 0, 0, 'distkv cluster'),
    run: async (client, args, out, conn) => {
      positionals(args, 0, 0, 'distkv cluster');
      let view = await gatherCluster(client, conn);
      // A node still starting (its stores opening) and a replica that has not reached its leader
      // since it started pass within seconds: asked again (up to STARTING_WAIT_MS, said once on
      // stderr), so "start, then check" does not report a start as a fault.
      const deadline = performance.now() + STARTING_WAIT_MS;
      for (let said = false; performance.now() < deadline;) {
        const starting = startingOf(view);
        if (starting.length === 0) break;
        if (!said)
          process.stderr.write(
            `distkv cluster: ${starting.join(', ')} starting; asking again (up to ${STARTING_WAIT_MS / 1000} s)\n`,
          );
        said = true;
        await new Promise((r) => setTimeout(r, STARTING_POLL_MS));
        view = await gatherCluster(client, conn);
      }
      const { newest, behind, disputes, down, untrusted, merged } = view;
      // A leader held behind its replica serves nothing of its shard: as good as down.
      // So is one without its etcd lease (it refuses writes and reads): that exited 0 while etcd was
      // down and no shard took a write.
      const leaseless = merged.filter(
        (s) => s.leader.no_lease === true && !s.leader.down && s.leader.behind === undefined,
      );
      // Nodes on different etcd clusters first: it explains the leaders and replicas named after it.
      const etcdSplit = differentEtcdProblem(view.docs);
      // Then nodes on different config files: it explains the replicas and slots named after it.
      const configSplit = differentConfigProblem(view.docs);
      const authSplit = differentAuthProblem(view.docs);
      const problems = [
        ...(authSplit === undefined ? [] : [authSplit]),
        ...[...untrusted].map(([node, f]) => tlsProblem(node, f)),
        ...(etcdSplit === undefined ? [] : [etcdSplit]),
        ...(configSplit === undefined ? [] : [configSplit]),
        ...problemsOf(merged, disputes),
      ];
      const failed =
        problems.length > 0 ||
        down.size > 0 ||
        disputes.length > 0 ||
        leaseless.length > 0 ||
        merged.some(
          (s) =>
            s.leader.behind !== undefined ||
            s.leader.state === 'failed' ||
            (s.leader.local_error !== undefined && !s.leader.down),
        );
      // One line per problem on stderr, table or --json alike: `distkv cluster && echo healthy`.
      for (const p of problems) process.stderr.write(`distkv cluster: not healthy: ${p}\n`);
      if (out.json) {
        out.doc({
          ...newest,
          shards: merged,
          down: [...down],
          tls_failed: [...untrusted].map(([node, f]) => ({ node, code: f.code, message: f.message })),
          older_map: behind.map((d) => ({ node: d.node, map_version: d.map_version ?? 1 })),
          disputes,
          problems,
        });
        return failed ? 1 : 0;
      }
      const rows = [['SHARD', 'SLOTS', 'EPOCH', 'LEADER', 'LAST SEQ', 'REPLICAS (state, lag)']];
      for (const s of merged) {
        const replicas = s.replicas
          .map((r) => {
            // What its leader heard of its pulls, where the replica's own view is missing or not following.
            const heard = r.leader_view === undefined ? '' : `; ${leaderNote(r.leader_view)}`;
            return r.down
              ? `${r.address} (DOWN${heard})`
              : r.tls_failed !== undefined
                ? `${r.address} (TLS FAILS: ${r.tls_failed}${heard})`
                : r.lag_seqs == null
                  ? // Its own seq tells which replica a forced failover may promote (the most advanced).
                    `${r.address} (${r.state ?? 'unknown'}${r.local_error === undefined ? '' : `: ${r.local_error}`}, lag unknown${r.acked_seq === undefined ? '' : `, at seq ${r.acked_seq}`}, last contact ${r.last_contact_ms_ago === undefined ? 'never' : `${r.last_contact_ms_ago} ms ago`}${heard})`
                  : `${r.address} (${r.state ?? 'unknown'}, ${r.lag_seqs} seqs, ${r.lag_ms ?? '?'} ms${r.leader_view?.following === false ? heard : ''})`;
          })
          .join('; ');
        rows.push([
          `${s.idx} ${s.name}`,
          `${s.slots[0]}-${s.slots[1]}`,
          String(s.epoch ?? 0),
          s.leader.down
            ? `NO LEADER: ${s.leader.address} (DOWN)`
            : s.leader.tls_failed !== undefined
              ? `${s.leader.address} (TLS FAILS: ${s.leader.tls_failed})`
              : s.leader.state === 'failed'
                ? `NO LEADER: ${s.leader.address} (STORE FAILED)`
                : s.leader.behind !== undefined
                  ? `NO LEADER: ${s.leader.address} (BEHIND ${s.leader.behind.replica}${s.leader.behind.handing_over === true ? ', HANDING OVER' : ''})`
                  : s.leader.no_lease === true
                    ? `NO LEADER: ${s.leader.address} (no lease in etcd)`
                    : s.leader.local_error !== undefined
                      ? `NO WRITES: ${s.leader.address} (${s.leader.local_error.slice(0, 64)})`
                      : s.leader.address,
          String(s.leader.last_seq ?? '-'),
          replicas || '-',
        ]);
      }
      const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
      for (const r of rows)
        out.line(
          r
            .map((cell, c) => cell.padEnd(widths[c]!))
            .join('  ')
            .trimEnd(),
        );
      out.line(
        `config version ${newest.version}, live map version ${newest.map_version ?? 1}${down.size > 0 ? `; ${down.size} node(s) down: ${[...down].join(', ')}` : ''}${behind.length > 0 ? `; routing with an older map: ${behind.map((d) => `${d.node} (version ${d.map_version ?? 1})`).join(', ')}` : ''}`,
      );
      if (etcdSplit !== undefined) out.line(`DIFFERENT ETCD CLUSTERS: ${etcdSplit}`);
      for (const s of merged) if (s.leader.down) out.line(leaderlessAdvice(s, newest.coordination));
      for (const s of merged)
        if (s.leader.state === 'failed' && !s.leader.down)
          out.line(
            `STORE FAILED: ${s.name}: its leader's store on ${s.leader.address} did not open, so the shard is refused (its replicas cannot follow it): ${s.leader.error ?? 'no reason given'}. Fix what the error names and restart that node; if the store cannot be repaired, stop that node and fail the shard over to a replica (distkv failover --shard ${s.name} --force)`,
          );
      for (const s of merged)
        if (s.leader.local_error !== undefined && !s.leader.down && s.leader.state !== 'failed')
          out.line(
            `NO WRITES: ${s.name}: its leader's store on ${s.leader.address} refuses every write (${s.leader.local_error.slice(0, 64)}): ${storeErrorAdvice(s.leader.local_error)}`,
          );
      for (const s of merged)
        if (s.config_leader !== undefined && !s.leader.down)
          out.line(configLeaderHint({ ...s, config_leader: s.config_leader }));
      for (const s of leaseless)
        out.line(
          s.leader.local_error === 'STORE_DIR_LOST'
            ? `${s.name} takes no writes: its leader ${s.leader.address} gave its leader key up, its store directory lost (STORE_DIR_LOST), once a replica held its last seq: that replica takes the shard over within a few seconds; run distkv cluster again (docs/failover.md)`
            : `${s.name} takes no writes: its leader ${s.leader.address} holds no lease in etcd (it does not reach etcd, or its key went to a replica taking over). Check that etcd answers it (coordination.etcd); once it does, the leader takes its key back unless a replica took the shard over meanwhile: run distkv cluster again (docs/failover.md)`,
        );
      for (const s of merged)
        if (s.leader.behind !== undefined && !s.leader.down)
          out.line(`LEADER BEHIND: ${s.name}: ${behindAdvice(s.name, s.leader.address, s.leader.behind)}`);
      for (const d of disputes)
        out.line(
          `CONFIG MISMATCH: ${d.node} refuses slots ${d.slots}: ${d.peer} (${d.peer_state}) routes with config ${d.peer_version ?? 'unknown'}, which gives them another leader; give every node the same sharding.toml`,
        );
      return failed ? 1 : 0;
    },
  },
  stats: {
    usage: 'distkv stats',
    summary: VERB_SUMMARIES.stats,
    options: {},
    check: (args) => positionals(args, 0, 0, 'distkv stats'),
    run: async (client, args, out) => {
      positionals(args, 0, 0, 'distkv stats');
      const doc = await client.nodeStats();
      if (out.json) {
        out.doc(doc);
        return 0;
      }
      out.line(
        `node: ${Object.entries(doc.node)
          .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
          .join(' ')}`,
      );
      for (const s of doc.stores) {
        const pick = [
          'engine',
          'keys',
          'lastSeq',
          'walSegments',
          'memtableBytes',
          'runs',
          'compactions',
          'replicaState',
          'lagSeqs',
        ];
        out.line(
          `${String(s.name)} ${String(s.role)} @${String(s.node)}: ${pick
            .filter((k) => s[k] !== undefined)
            .map((k) => `${k}=${String(s[k])}`)
            .join(' ')}`,
        );
      }
      return 0;
    },
  },
};
