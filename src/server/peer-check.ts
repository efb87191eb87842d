/**
 * PeerCheck: every node asks the other nodes of its config for their topology hash (GET /cluster)
 * at start and then every PEER_CHECK_MS, so that two nodes started with different sharding.toml
 * files are reported (error log, `/cluster` → `peers`) instead of silently routing keys to different
 * owners. A peer that does not answer is reported as unreachable; that is normal while a cluster
 * starts one host at a time, so it is logged only when a peer that answered stops answering. One
 * that answers with no `/cluster` document (a status other than 200, a body that is not JSON or
 * past its bounds: cluster-doc-fetch.ts, which makes the ask) is unreachable too, and logged
 * naming it: it says nothing of its config, so no slot is refused on it.
 * The same answer carries the peer's live map (`map`): it is handed to `onMap`, which adopts it when
 * its version is higher, so a map spreads to nodes that were down when it was published.
 *
 * A peer that agrees also shows the positions of the replica stores it hosts: `onDoc` gets its
 * whole answer, after its map (behind-leaders.ts: a leader here that started behind is held when a
 * replica holds records).
 *
 * A peer that disagrees also lists its shards (slot ranges and leaders): the slots whose leader
 * differs from this node's (src/routing/slot-dispute.ts) go into `gate` (slot-gate.ts), and every
 * request on them is refused until the peer answers with the same config. A peer that disagreed
 * and then stops answering keeps its dispute: it may be cut off but alive, taking the writes its
 * file gives it. A peer that never disagreed is not held against any slot while it is silent, so
 * one node down is not an outage of the others.
 *
 * A node learns of a dispute sooner when an owner refuses what it forwarded there (a scan or batch
 * part, or a single-key request relayed with --proxy, answered SLOTS_DISPUTED or CONFIG_MISMATCH):
 * `checkSoon` asks that peer at once instead of at the next round, at most once per peer per
 * EARLY_CHECK_MS, so it refuses the slots itself within a round trip rather than up to
 * PEER_CHECK_MS later.
 *
 * A peer counted unreachable that asks this node for its `/cluster` (its asks name it: PEER_HEADER)
 * is up: `heardFrom` asks it back at once (`checkSoon`). Nodes of a cluster start one by one, so
 * the first to start counted the later ones unreachable and kept saying so (RESP cluster
 * commands mark them `fail` and leave out their slots) for up to PEER_CHECK_MS after they served:
 * `redis-cli --cluster check` run as the last node came up found slots uncovered.
 *
 * No peer is asked before this node's first round (`checkAll`: node.ts runs it once the stores
 * are open and attached to the live map). An early check before (a peer's ask heard while this
 * node starts) gave a newer map to a MapKeeper with no stores to turn over; the stores then opened
 * as the older map had them (a replica pulling from a node that no longer leads) and never converged.
 *
 * A peer that answered its last check counts unreachable only after a second late check in a row
 * (no answer within PEER_TIMEOUT_MS): one GC pause no longer flags it `fail` (RESP) or down
 * (metrics) for a round. A refused connection or an answer that is no document counts at once.
 * Maps and positions come from answers only: no PEER_CHECK_MS bound on a former leader moves.
 *
 * A peer whose TLS handshake fails (its certificate not trusted here, expired, naming another
 * address: src/util/tls-failure.ts) is unreachable too, but up: it is logged as a refused map is,
 * naming what to check, and `untrusted` lists it for the start's warning (start-warnings.ts),
 * which said "no peer answered".
 *
 * An answer also says whether the peer runs with `server.token` (`auth`). A node that has one adopts
 * no map from a peer without (`open`): anyone who reaches such a peer can give it a map (`POST
 * /_admin/map` needs no token there), and through this check the map went to every node: one
 * unauthenticated request to the one node left without a token moved a shard's leader to a
 * replica 9 seqs behind, and the others saved the acknowledged writes it lacked to divergence
 * files, `distkv cluster` exiting 0. Either side logs the difference (`authLog`), saying what to do.
 *
 * An answer also names the etcd cluster the peer talks to (`coordination.etcd_cluster_id`), kept
 * while it is silent and shown in `peers`: the coordinator compares it with its own
 * (src/coordination/etcd-cluster-check.ts).
 */
import type { Logger } from 'pino';
import type { Agent } from 'undici';
import {
  disputedRanges,
  formatRanges,
  type LeaderRange,
  layoutOfCluster,
  slotCount,
} from '../routing/slot-dispute.js';
import { SLOT_COUNT } from '../routing/slot.js';
import { undici } from '../util/lazy-undici.js';
import { CLUSTER_DOC_BYTES } from '../util/peer-answer.js';
import { fetchClusterDoc } from './cluster-doc-fetch.js';
import { type TlsFailure, tlsFailureText } from '../util/tls-failure.js';
import {
  openPeerMessage,
  refusalDue,
  refusedMapMessage,
  tokenlessHereMessage,
  untrustedPeerMessage,
} from './peer-refusal.js';
import { type PeerDispute, SlotGate } from './slot-gate.js';
import { type EtcdIdentity, etcdOfDoc, etcdPendingOfDoc } from '../coordination/etcd-cluster-check.js';

/**
 * PEER_CHECK_MS is how often peers are asked for their config hash and live map. It also bounds how
 * long a former leader that comes back from a partition keeps taking writes in its old epoch (they
 * end in its divergence file), so it is short: one small GET per peer every 2 s.
 */
export const PEER_CHECK_MS = 2000;
/** PEER_TIMEOUT_MS bounds one peer check (a peer slower than this counts as unreachable). */
export const PEER_TIMEOUT_MS = 1000;
/** EARLY_CHECK_MS is the least time between two early checks of one peer (`checkSoon`). */
export const EARLY_CHECK_MS = 1000;
/** MAX_NAMED bounds the addresses read from one ask's PEER_HEADER (a process hosts a few nodes). */
const MAX_NAMED = 64;

/** OnMap receives a peer's live map document (unchecked) and resolves with whether it was adopted. */
export type OnMap = (doc: unknown, from: string) => Promise<boolean>;

/** PeerState is what this node knows about one peer. */
export type PeerState = 'unknown' | 'agrees' | 'disagrees' | 'unreachable';

/** PeerView is one entry of `/cluster` → `peers`. */
export interface PeerView {
  address: string;
  state: PeerState;
  /** version is the peer's topology hash when it answered. */
  version?: string;
  checked_ms_ago?: number;
  /** disputed_slots are the slots refused because of this peer (`first-last,...`), when any. */
  disputed_slots?: string;
  /** etcd_cluster_id is the etcd cluster the peer last named (`[coordination]`), with its endpoints `etcd`. */
  etcd_cluster_id?: string;
  etcd?: readonly string[];
  /** etcd_pending: the peer runs `[coordination]` and answers, but has not named its etcd cluster yet (it is starting). */
  etcd_pending?: true;
}

/** Disagreement is the last answer of a peer that disagreed: its hash and its leader ranges. */
interface Disagreement {
  version: string | undefined;
  /** layout is undefined when the answer held no readable shards: every slot is disputed. */
  layout: LeaderRange[] | undefined;
}

interface Peer {
  address: string;
  state: PeerState;
  version: string | undefined;
  checkedAt: number;
  everAnswered: boolean;
  /** theirs is kept from a disagreeing answer until the peer answers with this node's config. */
  theirs: Disagreement | undefined;
  /** asking is the check of this peer in flight (a round's or an early one; never two at once). */
  asking: Promise<void> | undefined;
  /**
   * earlyAt is when `checkSoon` last asked this peer (performance.now(); -Infinity: never). Not
   * the wall clock: one stepped back would hold early checks off until it caught up again.
   */
  earlyAt: number;
  /** refused is the last refusal of this peer's live map that was logged, and when (Date.now()). */
  refused: { text: string; at: number } | undefined;
  /** late counts this peer's late checks in a row since it last answered (it keeps its state at 1). */
  late: number;
  /** unread is the last refusal of this peer's `/cluster` body that was logged, and when (Date.now()). */
  unread: { text: string; at: number } | undefined;
  /** tls is the TLS failure of this peer's last check, if it failed so. */
  tls: TlsFailure | undefined;
  /** etcd is the etcd cluster the peer last named (kept while it is silent or names none). */
  etcd: EtcdIdentity | undefined;
  /** etcdPending: its last answer ran `[coordination]` without naming its etcd cluster, and none is known. */
  etcdPending: boolean;
  /** auth is what its last answer said of its server.token ("token", "none"; undefined: it said nothing, an older node). */
  auth: string | undefined;
  /** authSaid is the last warning logged of a token set on one of the two nodes only, and when (`refusalDue`). */
  authSaid: { text: string; at: number } | undefined;
}

/** PeerCheck polls the other nodes of the config for their topology hash. */
export class PeerCheck {
  private readonly peers: Peer[];
  private agent: Agent | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly mine: string;
  private readonly scheme: 'http' | 'https';
  private readonly log: Logger;
  /** ca is the PEM of the CA(s) trusted for https peers (server.tls_ca); undefined = the system's. */
  private readonly ca: Buffer | undefined;
  private readonly onMap: OnMap | undefined;
  private readonly onDoc: ((doc: unknown) => Promise<void>) | undefined;
  /** layout returns this node's leader ranges now (its config's slots, the live map's leaders). */
  private readonly layout: (() => readonly LeaderRange[]) | undefined;
  /** gate holds the slots refused because of the peers' disputes (rebuilt after every check). */
  readonly gate: SlotGate;
  /** hosted are this node's own addresses, named in its asks (PEER_HEADER). */
  private readonly hosted: readonly string[];
  /** began is set by the first round (`checkAll`): no peer is asked before it (see above). */
  private began = false;
  /** tokenHere: this node runs with server.token, and adopts no map from a peer that runs without (see above). */
  private readonly tokenHere: boolean;

  /** Without `layout`, disagreements are reported but no slot is refused. */
  constructor(
    peers: readonly string[],
    mine: string,
    scheme: 'http' | 'https',
    log: Logger,
    ca?: Buffer,
    onMap?: OnMap,
    layout?: () => readonly LeaderRange[],
    onDoc?: (doc: unknown) => Promise<void>,
    hosted: readonly string[] = [],
    tokenHere = false,
  ) {
    this.tokenHere = tokenHere;
    this.hosted = hosted;
    this.onMap = onMap;
    this.onDoc = onDoc;
    this.layout = layout;
    this.gate = new SlotGate(mine);
    this.mine = mine;
    this.scheme = scheme;
    this.log = log;
    this.ca = ca;
    this.peers = peers.map((address) => ({
      address,
      state: 'unknown',
      version: undefined,
      checkedAt: 0,
      everAnswered: false,
      theirs: undefined,
      asking: undefined,
      earlyAt: -Infinity,
      refused: undefined,
      late: 0,
      unread: undefined,
      tls: undefined,
      etcd: undefined,
      etcdPending: false,
      auth: undefined,
      authSaid: undefined,
    }));
  }

  /** start checks every peer now and then every PEER_CHECK_MS. */
  start(): void {
    if (this.peers.length === 0) return;
    void this.checkAll();
    this.timer = setInterval(() => void this.checkAll(), PEER_CHECK_MS);
    this.timer.unref();
  }

  /** checkAll asks every peer once (concurrent calls share one round); the first opens `checkSoon`. */
  checkAll(): Promise<void> {
    this.began = true;
    this.running ??= Promise.all(this.peers.map((p) => this.check(p))).then(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * checkSoon asks the peer at `address` now: it refused something this node forwarded to it as a
   * node in a dispute does, or a RESP client was told its slots are down (`-CLUSTERDOWN`) and it
   * may be back; nothing before the first round (see above), when `address` is not a peer, a check
   * of it is in flight, or it was asked early less than EARLY_CHECK_MS ago.
   */
  checkSoon(address: string): void {
    const p = this.peers.find((x) => x.address === address);
    const now = performance.now();
    if (
      !this.began ||
      this.stopped ||
      p === undefined ||
      p.asking !== undefined ||
      now - p.earlyAt < EARLY_CHECK_MS
    )
      return;
    p.earlyAt = now;
    void this.check(p);
  }

  /**
   * heardFrom takes note of an ask of this node's `/cluster` whose PEER_HEADER is `header`: each
   * peer it names that this node counts unreachable (or has not asked yet, or found late) is asked
   * at once (`checkSoon`), as it is up; so is one that disagreed: it asks as it starts, maybe with
   * its file put right (its slots stayed refused here until the next round, and a write right
   * after its restart was answered SLOTS_DISPUTED). Names that are not peers of this node are ignored.
   */
  heardFrom(header: string): void {
    if (header === '') return;
    for (const address of header.split(',', MAX_NAMED)) {
      const p = this.peers.find((x) => x.address === address.trim());
      if (p !== undefined && (p.state !== 'agrees' || p.late > 0)) this.checkSoon(p.address);
    }
  }

  /**
   * refusedBy takes note of a forwarded request's refusal by the peer at `address` (an error
   * `code`): SLOTS_DISPUTED or CONFIG_MISMATCH there means that peer sees a dispute this node may
   * not have seen yet, so it is asked early (`checkSoon`).
   */
  refusedBy(address: string, code: string): void {
    if (code === 'SLOTS_DISPUTED' || code === 'CONFIG_MISMATCH') this.checkSoon(address);
  }

  /** silent lists the peers that did not answer their last check (all of them before any check). */
  silent(): string[] {
    return this.peers.filter((p) => p.state === 'unreachable' || p.state === 'unknown').map((p) => p.address);
  }

  /** untrusted lists the peers whose last check failed its TLS handshake, with the failure. */
  untrusted(): { address: string; tls: TlsFailure }[] {
    return this.peers.flatMap((p) => (p.tls === undefined ? [] : [{ address: p.address, tls: p.tls }]));
  }

  /** view lists the peers for `/cluster`. */
  view(): PeerView[] {
    const now = Date.now();
    const disputes = this.gate.list();
    return this.peers.map((p) => {
      const d = disputes.find((x) => x.peer === p.address);
      return {
        address: p.address,
        state: p.state,
        ...(p.version === undefined ? {} : { version: p.version }),
        ...(p.checkedAt === 0 ? {} : { checked_ms_ago: now - p.checkedAt }),
        ...(d === undefined || d.ranges.length === 0 ? {} : { disputed_slots: formatRanges(d.ranges) }),
        ...(p.etcd === undefined ? {} : { etcd_cluster_id: p.etcd.id, etcd: p.etcd.etcd }),
        ...(p.etcdPending && p.state !== 'unreachable' ? { etcd_pending: true as const } : {}),
      };
    });
  }

  /**
   * disputes recomputes every kept disagreement against this node's layout now (the live map may
   * have moved a leader since) and hands them to the gate.
   */
  private disputes(): PeerDispute[] {
    const layout = this.layout;
    if (layout === undefined) return [];
    const mine = layout();
    return this.peers.flatMap((p) => {
      const t = p.theirs;
      if (t === undefined) return [];
      return [
        {
          peer: p.address,
          version: t.version,
          ranges:
            t.layout === undefined ? [{ first: 0, last: SLOT_COUNT - 1 }] : disputedRanges(mine, t.layout),
          theirs: t.layout,
          mine,
          silent: p.state === 'unreachable',
        },
      ];
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.running;
    await Promise.all(this.peers.flatMap((p) => (p.asking === undefined ? [] : [p.asking])));
    await this.agent?.close();
  }

  /** check asks `p` once; a check of it already in flight is shared, so answers land in order. */
  private check(p: Peer): Promise<void> {
    p.asking ??= this.ask(p).finally(() => {
      p.asking = undefined;
    });
    return p.asking;
  }

  /**
   * unread logs that `p` answered with something that is no `/cluster` document (`reason`: a body
   * past CLUSTER_DOC_BYTES or PEER_TIMEOUT_MS, a status other than 200, not JSON), naming the peer
   * as a refused map is: when the reason changes, then once a minute. The peer counts as
   * unreachable: no slot is refused on an answer that says nothing of its config.
   */
  private unread(p: Peer, reason: string): void {
    if (!refusalDue(p.unread, reason, Date.now())) return;
    p.unread = { text: reason, at: Date.now() };
    this.log.warn(
      { peer: p.address, err: reason },
      `node ${p.address} sent a /cluster answer this node does not read (a 200 with a JSON document of at most ${CLUSTER_DOC_BYTES} bytes within ${PEER_TIMEOUT_MS} ms); it counts as unreachable until it answers so: check that ${p.address} is a distkv node of this cluster (one at its server.max_connections answers 503)`,
    );
  }

  /** untrustedLog logs the failed TLS handshake `f` of `p` when due (as `unread`: on change, then once a minute). */
  private untrustedLog(p: Peer, f: TlsFailure): void {
    if (!refusalDue(p.unread, f.code, Date.now())) return;
    p.unread = { text: f.code, at: Date.now() };
    this.log.warn({ peer: p.address, err: tlsFailureText(f) }, untrustedPeerMessage(p.address, f));
  }

  /** authLog warns when `p` and this node differ in having a server.token (as `unread`: on change, then once a minute). */
  private authLog(p: Peer): void {
    const text =
      this.tokenHere && p.auth === 'none'
        ? openPeerMessage(p.address)
        : !this.tokenHere && p.auth === 'token'
          ? tokenlessHereMessage(p.address)
          : undefined;
    if (text === undefined) {
      p.authSaid = undefined;
      return;
    }
    if (!refusalDue(p.authSaid, text, Date.now())) return;
    p.authSaid = { text, at: Date.now() };
    this.log.error({ peer: p.address, peer_auth: p.auth }, text);
  }

  private async ask(p: Peer): Promise<void> {
    let state: PeerState;
    let version: string | undefined;
    // An unreachable peer keeps the disagreement it last answered with (see the design block).
    let theirs = p.theirs;
    try {
      const u = await undici();
      this.agent ??= new u.Agent({
        connections: 1,
        keepAliveTimeout: PEER_CHECK_MS * 2,
        ...(this.ca === undefined ? {} : { connect: { ca: this.ca } }),
      });
      const answer = await fetchClusterDoc(p.address, {
        scheme: this.scheme,
        hash: this.mine,
        timeoutMs: PEER_TIMEOUT_MS,
        agent: this.agent,
        from: this.hosted,
      });
      if (answer.kind === 'unread') this.unread(p, answer.reason);
      p.tls = answer.kind === 'silent' ? answer.tls : undefined;
      // A failed handshake is logged as an unread answer is (the reason names the failure).
      if (p.tls !== undefined) this.untrustedLog(p, p.tls);
      if (
        answer.kind === 'silent' &&
        answer.late &&
        p.late === 0 &&
        (p.state === 'agrees' || p.state === 'disagrees')
      ) {
        // One late answer of a peer that answered: it keeps what it last said (see above).
        p.late = 1;
        return;
      }
      if (answer.kind === 'silent' || answer.kind === 'unread') state = 'unreachable';
      else {
        const doc = answer.doc;
        p.etcd = etcdOfDoc(doc) ?? p.etcd;
        p.etcdPending = p.etcd === undefined && etcdPendingOfDoc(doc);
        version = answer.kind === 'agrees' ? this.mine : answer.version;
        state = answer.kind === 'agrees' ? 'agrees' : 'disagrees';
        theirs = state === 'agrees' ? undefined : { version, layout: layoutOfCluster(doc) };
        p.auth = typeof doc.auth === 'string' ? doc.auth : undefined;
        const open = this.tokenHere && p.auth === 'none';
        this.authLog(p);
        if (state === 'agrees' && doc.map !== undefined && this.onMap !== undefined && !open)
          await this.onMap(doc.map, p.address).then(
            () => {
              p.refused = undefined;
            },
            (err: unknown) => {
              const text = (err as Error).message;
              if (!refusalDue(p.refused, text, Date.now())) return;
              p.refused = { text, at: Date.now() };
              this.log.error({ peer: p.address, err: text }, refusedMapMessage(p.address, text));
            },
          );
        if (state === 'agrees')
          await this.onDoc?.(doc).catch((err: unknown) => {
            this.log.error(
              { peer: p.address, err: (err as Error).message },
              "checking a peer's replica positions failed",
            );
          });
      }
    } catch {
      state = 'unreachable';
    }
    p.checkedAt = Date.now();
    p.late = 0;
    const was = p.state;
    p.state = state;
    p.version = version;
    const before = this.gate.list().find((d) => d.peer === p.address)?.ranges ?? [];
    p.theirs = theirs;
    this.gate.set(this.disputes());
    const now = this.gate.list().find((d) => d.peer === p.address)?.ranges ?? [];
    if (state === was && formatRanges(before) === formatRanges(now)) return;
    if (state === 'disagrees')
      this.log.error(
        { peer: p.address, theirs: version, mine: this.mine, disputed_slots: formatRanges(now) },
        `CONFIG MISMATCH: node ${p.address} routes with config ${String(version)}, this node with ${this.mine}; ${now.length === 0 ? 'no slot has another leader there' : `requests for the ${slotCount(now)} slots whose leader differs (${formatRanges(now)}) are refused until it agrees`}; give every node the same sharding.toml`,
      );
    else if (state === 'unreachable' && p.everAnswered)
      this.log.warn(
        { peer: p.address, ...(now.length === 0 ? {} : { disputed_slots: formatRanges(now) }) },
        `node ${p.address} stopped answering${now.length === 0 ? '' : `; slots ${formatRanges(now)} stay refused (with its other config it may still take their writes)`}`,
      );
    else if (state === 'agrees' && was !== 'unknown')
      this.log.info(
        { peer: p.address },
        `node ${p.address} answers with the same config${before.length === 0 ? '' : `: slots ${formatRanges(before)} are served again`}`,
      );
    if (state !== 'unreachable') p.everAnswered = true;
  }
}
