/**
 * Cluster commands: CLUSTER SLOTS, SHARDS, NODES, INFO, MYID, KEYSLOT, HELP. Their config epochs
 * and replication offsets: cluster-figures.ts.
 *
 * distkv's topology in Redis Cluster's terms: every node of the config is a cluster node at its
 * RESP address, with id nodeIdOf(address); a node that leads shards is a master owning their slot
 * ranges, a node that only hosts replicas is a replica of a leader all of whose shards it replicates
 * when there is one (masterOf), else of its first shard's leader. A master that
 * also hosts replicas of other shards is named as a master only, never among their replicas in
 * CLUSTER SLOTS or SHARDS (see replicasOf). The view is the config's, the same on every node, so
 * clients that ask any node route alike.
 *
 * CLUSTER SHARDS: Redis defines a shard as nodes that serve the same slots and replicate each other,
 * and clients that read it (READONLY reads included) take every replica of an entry to hold all its
 * slots. A distkv master may lead shards whose replicas differ (a node replicating only some of
 * them), so an entry is one master with one replica set: the master's shards are grouped by the
 * nodes that replicate them, each group one entry with its slot ranges. A master whose shards all
 * have the same replicas (the default layouts) is one entry, as before; otherwise it appears in
 * several entries, each truthful (CLUSTER SLOTS, one entry per range, was right already). Listing
 * per master the union of its shards' replicas told a client a replica held slots it does not
 * (test/e2e/resp-shards-partial-replica.test.ts).
 *
 * A node that did not answer this node's last peer check (`downNodes`) is reported as Redis reports
 * a node it marked FAIL: `fail` among its CLUSTER NODES flags (link `disconnected`), `health:
 * failed` in CLUSTER SHARDS, and left out of CLUSTER SLOTS, a replica as Redis leaves out a failed
 * replica, a leader with its slots as Redis leaves out slots no node serves: their keys get
 * `-CLUSTERDOWN Hash slot not served` here (key-route.ts). Kept there, a down leader sent ioredis to
 * it: its ready check (CLUSTER INFO) went to a random node of CLUSTER SLOTS, and a new client
 * reconnected until it drew a live one, while the down slots' commands failed with "Connection is
 * closed." instead of the CLUSTERDOWN a Redis user knows. CLUSTER INFO counts a down leader's slots
 * in `cluster_slots_fail` but keeps `cluster_state:ok`, as Redis does with
 * `cluster-require-full-coverage no` (CONFIG GET's answer), which is how distkv behaves (the other
 * slots are still served): ioredis's cluster client checks `cluster_state` before it is ready and
 * would not serve any slot while it says `fail` (docs/resp.md, "A node down").
 *
 * Slots this node refuses because a peer's config gives them another leader (src/server/slot-gate.ts)
 * are answered as Redis answers slots no node serves: left out of CLUSTER SLOTS, SHARDS and NODES
 * (a shard's range is cut around them), and not counted in `cluster_slots_assigned` nor
 * `cluster_slots_ok`; `cluster_state` is `fail` only when no slot is left. A cluster client then
 * sends none of their keys here, where each would get -TRYAGAIN until the files agree
 * (docs/resp.md, "Slots in dispute").
 */
import { configNodes } from '../server/node-plan.js';
import { type SlotRange, slotCount, subtractRanges } from '../routing/slot-dispute.js';
import { slotOfBytes } from '../routing/slot.js';
import type { ShardInfo } from '../routing/shard-map.js';
import { nodeIdOf, redisEndpoint, type RespEndpoint, respEndpointOf } from './resp-address.js';
import type { RespConnection } from './resp-connection.js';
import type { RespWriter } from './resp-format.js';
import { unknownSubcommand } from './unknown-command.js';
import { configEpochOf, currentEpoch, offsetOf } from './cluster-figures.js';
import { answeredStats } from './store-stats.js';
import type { StoreStatsReport } from '../worker/messages.js';

/** ClusterNode is one node of the topology as cluster commands describe it. */
interface ClusterNode {
  address: string;
  id: string;
  endpoint: RespEndpoint;
  /** led are the shards this node leads (it is a master when there are any). */
  led: ShardInfo[];
  /** masterOf is the leader a replica-only node follows. */
  master: string | undefined;
  /** down is set when this node's last peer check found the node unreachable (never for itself). */
  down: boolean;
}

/** downOf returns the set of nodes reported down (see the module comment); never this node. */
function downOf(c: RespConnection): ReadonlySet<string> {
  const down = c.ctx.downNodes?.() ?? new Set<string>();
  if (!down.has(c.ctx.listener.address)) return down;
  const others = new Set(down);
  others.delete(c.ctx.listener.address);
  return others;
}

function clusterNodes(c: RespConnection): ClusterNode[] {
  const { config } = c.ctx;
  const shards = c.ctx.liveShards();
  const down = downOf(c);
  return configNodes(config).map((address) => {
    const led = shards.filter((s) => s.address === address);
    return {
      address,
      id: nodeIdOf(address),
      endpoint: respEndpointOf(address, config.server.resp_port_offset) ?? { host: '', port: 0 },
      led,
      master: led.length === 0 ? masterOf(address, shards) : undefined,
      down: down.has(address),
    };
  });
}

/**
 * masterOf returns the leader that CLUSTER NODES names as the master of `address`, a node that
 * leads nothing: a Redis replica has one master and holds all of its slots, so it is the first
 * leader (in shard order) all of whose shards `address` replicates, else the leader of the first
 * shard it replicates (a master of which it holds only some slots); undefined when it replicates
 * none (it is then a master without slots). CLUSTER SLOTS and SHARDS name it under every shard it
 * replicates, which a NODES line cannot say (docs/resp.md, "Cluster mode"). INFO replication names
 * the same master (commands-info.ts).
 */
export function masterOf(address: string, shards: readonly ShardInfo[]): string | undefined {
  const followed = shards.filter((s) => s.replicas.includes(address));
  const whole = followed.find((f) =>
    shards.every((s) => s.address !== f.address || s.replicas.includes(address)),
  );
  return (whole ?? followed[0])?.address;
}

/** NO_NODES is an empty set of addresses (CLUSTER SHARDS names a down replica, with `health: failed`). */
const NO_NODES: ReadonlySet<string> = new Set();

function writeNodeTriple(w: RespWriter, address: string, offset: number): void {
  const e = respEndpointOf(address, offset) ?? { host: '', port: 0 };
  w.array(3);
  w.bulk(e.host);
  w.integer(e.port);
  w.bulk(nodeIdOf(address));
}

/** refusedOf returns the slots this node refuses (slot-gate.ts), as sorted disjoint ranges. */
function refusedOf(c: RespConnection): readonly SlotRange[] {
  return c.ctx.slotGate?.refused() ?? [];
}

/** rangesOf returns the slots of shards that this node serves (not `refused`), merged into runs. */
function rangesOf(shards: readonly ShardInfo[], refused: readonly SlotRange[]): SlotRange[] {
  return subtractRanges(
    shards.map((s) => s.slots),
    refused,
  );
}

/**
 * replicasOf returns the replicas of `s` that cluster commands name: not a node that leads shards
 * (CLUSTER NODES calls it a master, and a Redis node is never both), nor one reported down (as
 * Redis leaves out a failed replica). ioredis keeps one connection per address, as a master
 * (without READONLY) when the address is a master of any range: with `scaleReads: 'slave'` it sent
 * the reads of a range to such a "replica", got -MOVED to the leader, and sent them to the replica
 * again until it gave up (test/e2e/resp-operator-tools.test.ts).
 */
function replicasOf(s: ShardInfo, leaders: ReadonlySet<string>, down: ReadonlySet<string>): string[] {
  return s.replicas.filter((x) => !leaders.has(x) && !down.has(x));
}

function slots(c: RespConnection, w: RespWriter): void {
  const offset = c.ctx.config.server.resp_port_offset;
  const refused = refusedOf(c);
  const down = downOf(c);
  const shards = c.ctx.liveShards();
  const leaders = new Set(shards.map((s) => s.address));
  // A down leader's slots are left out, as Redis leaves out slots no node serves (see the module comment).
  const served = shards.filter((s) => !down.has(s.address));
  const entries = served.flatMap((s) => rangesOf([s], refused).map((r) => ({ s, r })));
  w.array(entries.length);
  for (const { s, r } of entries) {
    const replicas = replicasOf(s, leaders, down);
    w.array(3 + replicas.length);
    w.integer(r.first);
    w.integer(r.last);
    writeNodeTriple(w, s.address, offset);
    for (const x of replicas) writeNodeTriple(w, x, offset);
  }
}

/** ShardEntry is one CLUSTER SHARDS entry: a master, the replicas that all hold its `shards`, their slots. */
interface ShardEntry {
  master: ClusterNode;
  shards: ShardInfo[];
  replicas: ClusterNode[];
}

/**
 * shardEntries groups each master's shards by the set of nodes that replicate them (see the module
 * comment): one entry per master and replica set, in shard order. Down replicas stay (`health:
 * failed`), as Redis lists a failed node in its shard.
 */
function shardEntries(nodes: readonly ClusterNode[]): ShardEntry[] {
  const masters = nodes.filter((n) => n.led.length > 0);
  const leaders = new Set(masters.map((m) => m.address));
  const byAddress = new Map(nodes.map((n) => [n.address, n]));
  return masters.flatMap((master) => {
    const groups = new Map<string, ShardEntry>();
    for (const s of master.led) {
      const replicas = replicasOf(s, leaders, NO_NODES);
      const key = [...replicas].sort().join(' ');
      const group = groups.get(key);
      if (group !== undefined) group.shards.push(s);
      else groups.set(key, { master, shards: [s], replicas: replicas.map((r) => byAddress.get(r)!) });
    }
    return [...groups.values()];
  });
}

/**
 * servedEntries gives each entry its served ranges (`refused` cut out) and leaves out an entry whose
 * slots are all refused when its master has another entry: Redis never lists a master twice, and a
 * master with no served slot at all keeps one entry without slots, as Redis lists a master that owns
 * none.
 */
function servedEntries(
  entries: readonly ShardEntry[],
  refused: readonly SlotRange[],
): (ShardEntry & { ranges: SlotRange[] })[] {
  const withRanges = entries.map((e) => ({ ...e, ranges: rangesOf(e.shards, refused) }));
  const serving = new Set(withRanges.filter((e) => e.ranges.length > 0).map((e) => e.master));
  const listed = new Set<ClusterNode>();
  return withRanges.filter((e) => {
    if (e.ranges.length === 0 && (serving.has(e.master) || listed.has(e.master))) return false;
    listed.add(e.master);
    return true;
  });
}

/**
 * shardsLater answers CLUSTER SHARDS once this process's stores have given their stats: a leader
 * store's word on its replicas' acks is what the offsets of replicas elsewhere are
 * (cluster-figures.ts). A worker that does not give them (restarting, or silent for
 * STATS_WAIT_MS: store-stats.ts `answeredStats`) leaves its own stores' replicas at the offsets
 * known without them; the other workers' figures stay.
 */
function shardsLater(c: RespConnection): void {
  const p = c.queue.later(c.proto, () => undefined);
  answeredStats(c)
    .catch((): StoreStatsReport[] => [])
    .then((stats) => {
      c.queue.completeWith(p, (w) => {
        shardsReply(c, w, stats);
      });
    }, NO_OP);
}

const NO_OP = (): void => undefined;

function shardsReply(c: RespConnection, w: RespWriter, stats: readonly StoreStatsReport[]): void {
  const refused = refusedOf(c);
  const entries = servedEntries(shardEntries(clusterNodes(c)), refused);
  w.array(entries.length);
  for (const { master: m, replicas, ranges, shards } of entries) {
    w.stringMap([
      [
        'slots',
        (x) => {
          x.array(ranges.length * 2);
          for (const r of ranges) {
            x.integer(r.first);
            x.integer(r.last);
          }
        },
      ],
      [
        'nodes',
        (x) => {
          x.array(1 + replicas.length);
          for (const n of [m, ...replicas])
            x.stringMap([
              ['id', n.id],
              ['port', n.endpoint.port],
              ['ip', n.endpoint.host],
              ['endpoint', n.endpoint.host],
              ['role', n === m ? 'master' : 'replica'],
              ['replication-offset', offsetOf(c, n.address, shards, stats)],
              ['health', n.down ? 'failed' : 'online'],
            ]);
        },
      ],
    ]);
  }
}

function nodesText(c: RespConnection): string {
  const me = c.ctx.listener.address;
  const refused = refusedOf(c);
  const shards = c.ctx.liveShards();
  return clusterNodes(c)
    .map((n) => {
      const flags = `${n.address === me ? 'myself,' : ''}${n.led.length > 0 || n.master === undefined ? 'master' : 'slave'}${n.down ? ',fail' : ''}`;
      const master = n.master === undefined ? '-' : nodeIdOf(n.master);
      const ranges = rangesOf(n.led, refused).map((r) =>
        r.first === r.last ? `${r.first}` : `${r.first}-${r.last}`,
      );
      const ep = `${redisEndpoint(n.endpoint)}@${n.endpoint.port + 10000}`;
      const link = n.down ? 'disconnected' : 'connected';
      const epoch = configEpochOf(c, n.led, n.master, shards);
      return [n.id, ep, flags, master, '0', '0', String(epoch), link, ...ranges].join(' ');
    })
    .join('\n')
    .concat('\n');
}

function infoText(c: RespConnection): string {
  const nodes = clusterNodes(c);
  const shards = c.ctx.liveShards();
  const me = nodes.find((n) => n.address === c.ctx.listener.address);
  const down = downOf(c);
  const refused = refusedOf(c);
  const assigned = 16384 - slotCount(refused);
  const failed = slotCount(
    rangesOf(
      shards.filter((s) => down.has(s.address)),
      refused,
    ),
  );
  return [
    'cluster_enabled:1',
    `cluster_state:${assigned === 0 ? 'fail' : 'ok'}`,
    `cluster_slots_assigned:${assigned}`,
    `cluster_slots_ok:${assigned - failed}`,
    'cluster_slots_pfail:0',
    `cluster_slots_fail:${failed}`,
    `cluster_known_nodes:${nodes.length}`,
    `cluster_size:${nodes.filter((n) => n.led.length > 0).length}`,
    `cluster_current_epoch:${currentEpoch(c, shards)}`,
    // A replica's is its master's, as Redis reports it.
    `cluster_my_epoch:${me === undefined ? 0 : configEpochOf(c, me.led, me.master, shards)}`,
    '',
  ].join('\r\n');
}

const HELP = [
  'CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'INFO, MYID, NODES, SHARDS, SLOTS, KEYSLOT <key>, HELP',
];

/** ARITY of each subcommand, counting "CLUSTER" and the subcommand (negative = at least). */
const ARITY: Record<string, number> = {
  slots: 2,
  shards: 2,
  nodes: 2,
  info: 2,
  myid: 2,
  keyslot: 3,
  help: 2,
};

/** cluster: the CLUSTER command family. */
export function cluster(c: RespConnection, args: Buffer[]): void {
  const sub = args[1]!.toString('latin1').toLowerCase();
  const arity = ARITY[sub];
  if (sub === 'shards' && args.length === arity) {
    shardsLater(c);
    return;
  }
  const w = c.queue.now(c.proto);
  if (arity === undefined) {
    w.errorBytes(unknownSubcommand(args[1]!, 'CLUSTER'));
    return;
  }
  if (args.length !== arity) {
    w.error(`ERR wrong number of arguments for 'cluster|${sub}' command`);
    return;
  }
  switch (sub) {
    case 'slots':
      slots(c, w);
      return;
    case 'nodes':
      w.verbatim(nodesText(c));
      return;
    case 'info':
      w.verbatim(infoText(c));
      return;
    case 'myid':
      w.bulk(nodeIdOf(c.ctx.listener.address));
      return;
    case 'keyslot':
      w.integer(slotOfBytes(args[2]!));
      return;
    default:
      w.help(HELP);
  }
}
