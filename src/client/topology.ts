/**
 * ClusterTopology: the client's routing table as the cluster last described it in `GET /cluster`
 * (the single source of truth): shards, slot ranges, leader and replica addresses, the config hash
 * and the live map version (docs/failover.md). `reload` asks the configured nodes in order, then
 * the other nodes of the map it has (askable: a configured node that died for good, as a leader a
 * failover replaced, left a client that knew the cluster asking only it, and waiting out
 * refusedWaitMs on every reload), and adopts the first answer that is not older than the map it
 * has (a node that has not learned the
 * newest map yet, or is cut off from its peers, would take the client back to a deposed leader);
 * one load runs at a time, shared by every caller that asks meanwhile. `loadNewest` asks every node
 * at once and adopts the highest map version, for a write held by a leader switch or an answer
 * that names a newer map (`learnOf`: at most one look per HINT_LOOK_MS); one look at a time too.
 * The scheme of the node that last answered is the one requests use. Once the client is closed,
 * a load or look still running asks no further node (its pools refuse: node-pools.ts).
 *
 * A map version is believed only when another node vouches for it (`vouched`): a version comes
 * from one failover at a time and spreads to every node within a peer poll, so a version more than
 * MAX_MAP_LEAD past every other node's is one bad node's (a bug, a damaged live map, a hostile
 * node). Adopted, it made every real map "older" for good: the client never routed by the cluster
 * again. A load whose first answer is that far past the client's map looks at every node instead,
 * and a look adopts the newest version that is vouched; a load that finds every node it reaches
 * more than MAX_MAP_LEAD below the client's map looks too, and goes back to the newest vouched
 * one when no node vouches for the client's (it re-learns the cluster). A map a look took from
 * the only node that answered, far past the client's, is looked for again at every load until
 * other nodes answer (`alone`). What remains: a client whose only reachable node lies is routed by
 * it; a lie within MAX_MAP_LEAD of the cluster's version holds until the cluster's map passes it.
 */
import { DistkvError } from '../errors.js';
import type { ShardMap } from '../routing/shard-map.js';
import { plural } from '../util/plural.js';
import { connectFailure, refused, sleep } from './exchange.js';
import { isClosedError, type NodePools } from './node-pools.js';
import { REFUSED_RETRY_MS } from './sender.js';
import type { ClientStats, ClusterView, WaitNotice } from './types.js';
import { viewRoutes } from './view-routes.js';
import { answerJson, clusterRefusal, errorOf } from './wire-decode.js';

/**
 * HINT_LOOK_MS spaces the looks an answer's newer map version starts: every answer of a new leader
 * names it until a look finds it, and a node that names a map no node serves must not make the
 * client ask every node back to back.
 */
const HINT_LOOK_MS = 250;

/**
 * LOOK_GRACE_MS is how long a look for the newest map waits for the other nodes once one has
 * answered. A stopped node (SIGSTOP, a dead host) answers nothing until the client's timeout: a look
 * that waited for every node made each retry of a read of its shard wait that timeout twice (the
 * look, then the attempt), and `distkv get` of a key there took 107 s, not the 40 s of its four
 * attempts. The nodes that do answer learn a newer map from each other within a peer poll (2 s).
 */
const LOOK_GRACE_MS = 500;

/**
 * LOAD_STAGGER_MS is how long a load of /cluster waits for one node before it asks the next as
 * well (askInTurn): a healthy node answers in milliseconds, a stopped one never.
 */
const LOAD_STAGGER_MS = 1000;

/**
 * MAX_MAP_LEAD is how far past another node's a map version one node alone names may be and still
 * be believed (vouched): a version grows by one per failover and reaches every node within a peer
 * poll (2 s), so a larger lead is one node's error, not the cluster's news.
 */
export const MAX_MAP_LEAD = 16;

/**
 * vouchedBest returns the view with the highest map version that is vouched for among `views`:
 * one that is not a single node's lead of more than MAX_MAP_LEAD past every lower version named
 * (named by two nodes or more, within MAX_MAP_LEAD of a lower one, or the lowest named).
 */
export function vouchedBest<T extends { doc: ClusterView }>(views: readonly T[]): T | undefined {
  const versions = views.map((v) => v.doc.map_version ?? 0);
  let best: T | undefined;
  let bestVersion = -1;
  for (const [i, v] of views.entries()) {
    const version = versions[i]!;
    if (version <= bestVersion) continue;
    const named = versions.filter((x) => x === version).length;
    const lower = versions.filter((x) => x < version);
    if (named >= 2 || lower.length === 0 || lower.some((x) => version - x <= MAX_MAP_LEAD)) {
      best = v;
      bestVersion = version;
    }
  }
  return best;
}

/** ClusterTopology loads and holds the client's view of the cluster. */
export class ClusterTopology {
  /** origins are the configured nodes ("http://host:port"), parsed; urls as the user gave them. */
  readonly origins: readonly string[];
  readonly urls: readonly string[];
  private readonly pools: NodePools;
  private readonly stats: ClientStats;
  private current: ShardMap | undefined;
  private configHash: string | undefined;
  private mapVersion = 0;
  /**
   * alone says the map was taken on one node's word, far past the client's (no other node
   * answered the look): every load looks again, until other nodes vouch for a map.
   */
  private alone = false;
  private reloading: Promise<void> | undefined;
  private looking: Promise<void> | undefined;
  private hintLookAt = Number.NEGATIVE_INFINITY;
  private currentScheme: string;
  private readonly refusedWaitMs: number;
  private readonly onWait: ((notice: WaitNotice) => void) | undefined;

  /**
   * `stats.topologyLoads` counts the views it adopts; a load that every node refuses the
   * connection of is tried again for `refusedWaitMs` (the client's option), telling `onWait` once.
   */
  constructor(
    origins: readonly string[],
    urls: readonly string[],
    pools: NodePools,
    stats: ClientStats,
    refusedWaitMs = 0,
    onWait?: (notice: WaitNotice) => void,
  ) {
    this.origins = origins;
    this.urls = urls;
    this.pools = pools;
    this.stats = stats;
    this.refusedWaitMs = refusedWaitMs;
    this.onWait = onWait;
    this.currentScheme = new URL(origins[0]!).protocol.replace(':', '');
  }

  /** map is the routing table (undefined before the first load). */
  get map(): ShardMap | undefined {
    return this.current;
  }

  /** version is the config hash the client routes with (undefined before the first load). */
  get version(): string | undefined {
    return this.configHash;
  }

  /** liveMapVersion is the version of the live map the client routes with (0 before the first load). */
  get liveMapVersion(): number {
    return this.mapVersion;
  }

  /** scheme is "http" or "https": the first configured node's, then that of the node that answered /cluster. */
  get scheme(): string {
    return this.currentScheme;
  }

  /**
   * trusts reports whether the client may send a request (its bearer token and body) to `origin`:
   * a configured node or a node of the map, under the client's scheme. A node redirects only to
   * another node of the map; a Location elsewhere (another host or port, or http after https) would
   * hand the token to whoever answers there, in the clear after a downgrade (sender.ts).
   */
  trusts(origin: string): boolean {
    const u = new URL(origin);
    if (u.protocol !== `${this.currentScheme}:`) return false;
    const at = authorityOf(u);
    if (this.origins.some((o) => authorityOf(new URL(o)) === at)) return true;
    return (this.current?.shards ?? []).some((s) =>
      [s.address, ...s.replicas].some((a) => authorityOf(new URL(`${u.protocol}//${a}`)) === at),
    );
  }

  /** reload fetches /cluster from the first node that answers (one load at a time, shared by callers). */
  reload(): Promise<void> {
    this.reloading ??= this.load().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  /**
   * loadNewest asks every configured node and every node of the current map at once and adopts the
   * view with the highest map version: a leader cut off from the coordinator keeps answering with
   * the map it had, so the first node to answer is not enough while a write is held for a switch.
   * One such look runs at a time, shared by every caller that asks meanwhile: each request held by
   * a switch or retried after a connection error asks, and a thousand of them in flight would
   * otherwise ask every node a thousand times at once, just when the cluster is failing over.
   */
  loadNewest(): Promise<void> {
    this.looking ??= this.lookNewest().finally(() => {
      this.looking = undefined;
    });
    return this.looking;
  }

  /** learnOf is told the map version an answer named: a newer one than the client's starts a look for it. */
  learnOf(version: number): void {
    if (version <= this.mapVersion || performance.now() - this.hintLookAt < HINT_LOOK_MS) return;
    this.hintLookAt = performance.now();
    this.loadNewest().catch(() => undefined);
  }

  /**
   * askable are the nodes a load (and `cluster()` without a node) asks: the configured ones, then
   * the other nodes of the map the client routes with (a configured node that died for good, a
   * leader a failover replaced, must not leave a client that knows the cluster with nowhere to ask).
   */
  askable(): string[] {
    const members = this.current?.shards.flatMap((s) => [s.address, ...s.replicas]) ?? [];
    return [...new Set([...this.origins, ...members.map((a) => `${this.currentScheme}://${a}`)])];
  }

  private async lookNewest(): Promise<void> {
    const candidates = this.askable();
    // Every node's view as it comes; the look ends when all have answered or failed, or
    // LOOK_GRACE_MS after the first answer, and the requests still out are abandoned (a client's
    // close waits for the requests in flight: a silent node's would hold it for the timeout).
    const views: { o: string; doc: ClusterView }[] = [];
    const abandon = new AbortController();
    let grace: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      let pending = candidates.length;
      const settled = (): void => {
        if (--pending === 0) resolve();
      };
      if (pending === 0) resolve();
      for (const o of candidates)
        this.fetchView(o, abandon.signal).then((doc) => {
          views.push({ o, doc });
          grace ??= setTimeout(resolve, LOOK_GRACE_MS);
          settled();
        }, settled);
    });
    clearTimeout(grace);
    abandon.abort();
    const best = vouchedBest(views);
    if (best === undefined) return;
    const version = best.doc.map_version ?? 0;
    const took = this.mapVersion;
    // Back to an older map only when no node vouches for the client's (see the design block):
    // were any to, a vouched version would be at least the client's.
    if (version > this.mapVersion || this.mapVersion - version > MAX_MAP_LEAD) this.adopt(best.o, best.doc);
    if (this.mapVersion === version)
      this.alone = views.length === 1 && (this.alone || version - took > MAX_MAP_LEAD);
  }

  private async load(): Promise<void> {
    const deadline = performance.now() + this.refusedWaitMs;
    let told = false;
    for (;;) {
      if (this.alone && (await this.vouchedNow())) return;
      const asking = this.askable();
      const { view, older, last, allRefused } = await this.askInTurn(asking);
      // A version far past the client's, or a client's version far past every node's, is
      // believed only if other nodes vouch for it: a look asks them all (see the design block).
      const far = view !== undefined && (view.doc.map_version ?? 0) - this.mapVersion > MAX_MAP_LEAD;
      if (far || (older !== undefined && this.mapVersion - older > MAX_MAP_LEAD)) {
        await this.loadNewest();
        if (this.current !== undefined) return;
      } else if (view !== undefined) {
        this.adopt(view.origin, view.doc);
        return;
      } else if (older !== undefined) return;
      // The client was closed while the load ran: the nodes not asked yet are not asked at all.
      if (isClosedError(last)) throw last;
      // Every node refused the connection: nothing listens there yet (a restart's gap), waited for
      // up to refusedWaitMs. A node that answers anything else is not waited for.
      if (allRefused && performance.now() < deadline) {
        if (!told) this.tellWait(Math.round(deadline - performance.now()), asking);
        told = true;
        await sleep(REFUSED_RETRY_MS, undefined);
        continue;
      }
      throw new DistkvError(
        'SHARD_UNREACHABLE',
        `no node answered /cluster (${this.urls.join(', ')}${othersText(asking.length - this.origins.length)}): ${connectFailure(last, { timeoutMs: this.pools.timeoutMs, waitMs: 0, describe: this.pools.describeTimeout })}`,
        { cause: last },
      );
    }
  }

  /**
   * askInTurn asks `asking` (askable) for /cluster in their order, each LOAD_STAGGER_MS after the
   * one before or as soon as that one fails, and settles with the first view that is not older
   * than the client's map (same config, older live map: that node has not learned what another one
   * told the client), or with none once every node failed or was older (`older`: the newest
   * version of those, undefined when none was). A node that accepts the
   * connection and answers nothing (SIGSTOP, a hung host) held the load for the client's whole
   * timeout (10 s for every CLI command) when it came first in DISTKV_URL.
   */
  private askInTurn(asking: readonly string[]): Promise<{
    view: { origin: string; doc: ClusterView } | undefined;
    older: number | undefined;
    last: unknown;
    allRefused: boolean;
  }> {
    return new Promise((resolve) => {
      let last: unknown;
      let older: number | undefined;
      let allRefused = true;
      let settled = 0;
      let asked = 0;
      let done = false;
      let timer: NodeJS.Timeout | undefined;
      // The requests still out once the load settles are abandoned (see lookNewest).
      const abandon = new AbortController();
      const finish = (view: { origin: string; doc: ClusterView } | undefined): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        abandon.abort();
        resolve({ view, older, last, allRefused });
      };
      const askNext = (): void => {
        clearTimeout(timer);
        const origin = asking[asked++];
        if (origin === undefined) return;
        timer = setTimeout(askNext, LOAD_STAGGER_MS);
        // A node passed over (older, or failed) with none other in flight: the next one now.
        const passedOver = (): void => {
          if (++settled === asking.length) finish(undefined);
          else if (!done && asked === settled) askNext();
        };
        this.fetchView(origin, abandon.signal).then(
          (doc) => {
            if (doc.version !== this.configHash || (doc.map_version ?? 0) >= this.mapVersion) {
              finish({ origin, doc });
              return;
            }
            older = Math.max(older ?? 0, doc.map_version ?? 0);
            passedOver();
          },
          (err: unknown) => {
            last = err;
            allRefused &&= refused(err);
            passedOver();
          },
        );
      };
      askNext();
    });
  }

  /** vouchedNow looks at every node (`alone`: see the design block) and says whether a map is vouched for now. */
  private async vouchedNow(): Promise<boolean> {
    await this.loadNewest();
    return !this.alone;
  }

  /** tellWait tells onWait (a hook that throws is ignored) that a load waits for refusing nodes. */
  private tellWait(waitMs: number, asking: readonly string[]): void {
    try {
      this.onWait?.({ code: 'REFUSED', node: asking.map((o) => new URL(o).host).join(', '), waitMs });
    } catch {
      // a hook that throws is the caller's bug, not a reason to fail the load
    }
  }

  private async fetchView(origin: string, signal?: AbortSignal): Promise<ClusterView> {
    const res = await this.pools.exchange(origin, 'GET', '/cluster', undefined, {}, signal);
    try {
      if (res.status !== 200) throw errorOf(res.status, res.body);
      const doc = answerJson(res.body, `/cluster of ${origin}`) as ClusterView;
      if (!Array.isArray(doc.shards))
        throw new DistkvError('INTERNAL', `/cluster of ${origin}: the answer has no "shards" list`);
      // A view the client cannot route by is this node's failure, not the load's (view-routes.ts).
      viewRoutes(doc, new URL(origin).host);
      return doc;
    } catch (err) {
      throw clusterRefusal(new URL(origin).host, err);
    }
  }

  /** adopt routes by `doc`, a view fetchView checked. */
  private adopt(origin: string, doc: ClusterView): void {
    this.current = viewRoutes(doc, new URL(origin).host);
    this.currentScheme = new URL(origin).protocol.replace(':', '');
    this.stats.topologyLoads++;
    // The leaders follow the live map, so `version` (the config hash) is not a hash of these addresses.
    this.configHash = doc.version;
    this.mapVersion = doc.map_version ?? 0;
  }
}

/** authorityOf is a URL's "host:port" with the scheme's default port written out (URL drops it). */
function authorityOf(u: URL): string {
  return `${u.hostname}:${u.port !== '' ? u.port : u.protocol === 'https:' ? '443' : '80'}`;
}

/** othersText says how many nodes of the client's map were asked besides the configured ones. */
export function othersText(n: number): string {
  return n <= 0 ? '' : `, and ${plural(n, 'more node')} of its map`;
}
