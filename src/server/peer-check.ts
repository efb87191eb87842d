/**
 * PeerCheck: every node asks the other nodes of its config for their topology hash (GET /cluster)
 * at start and then every PEER_CHECK_MS, so that two nodes started with different sharding.toml
 * files are reported (error log, `/cluster` → `peers`) instead of silently routing keys to different
 * owners. A peer that does not answer is reported as unreachable; that is normal while a cluster
 * starts one host at a time, so it is logged only when a peer that answered stops answering.
 * The same answer carries the peer's live map (`map`): it is handed to `onMap`, which adopts it when
 * its version is higher, so a map spreads to nodes that were down when it was published.
 */
import type { Logger } from 'pino';
import type { Agent } from 'undici';
import { undici } from '../util/lazy-undici.js';

/**
 * PEER_CHECK_MS is how often peers are asked for their config hash and live map. It also bounds how
 * long a former leader that comes back from a partition keeps taking writes in its old epoch (they
 * end in its divergence file), so it is short: one small GET per peer every 2 s.
 */
export const PEER_CHECK_MS = 2000;
/** PEER_TIMEOUT_MS bounds one peer check (a peer slower than this counts as unreachable). */
export const PEER_TIMEOUT_MS = 1000;

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
}

interface Peer {
  address: string;
  state: PeerState;
  version: string | undefined;
  checkedAt: number;
  everAnswered: boolean;
}

/** PeerCheck polls the other nodes of the config for their topology hash. */
export class PeerCheck {
  private readonly peers: Peer[];
  private agent: Agent | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly mine: string;
  private readonly scheme: 'http' | 'https';
  private readonly log: Logger;
  /** ca is the PEM of the CA(s) trusted for https peers (server.tls_ca); undefined = the system's. */
  private readonly ca: Buffer | undefined;
  private readonly onMap: OnMap | undefined;

  constructor(
    peers: readonly string[],
    mine: string,
    scheme: 'http' | 'https',
    log: Logger,
    ca?: Buffer,
    onMap?: OnMap,
  ) {
    this.onMap = onMap;
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
    }));
  }

  /** start checks every peer now and then every PEER_CHECK_MS. */
  start(): void {
    if (this.peers.length === 0) return;
    void this.checkAll();
    this.timer = setInterval(() => void this.checkAll(), PEER_CHECK_MS);
    this.timer.unref();
  }

  /** checkAll asks every peer once (concurrent calls share one round). */
  checkAll(): Promise<void> {
    this.running ??= Promise.all(this.peers.map((p) => this.check(p))).then(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** silent lists the peers that did not answer their last check (all of them before any check). */
  silent(): string[] {
    return this.peers.filter((p) => p.state === 'unreachable' || p.state === 'unknown').map((p) => p.address);
  }

  /** view lists the peers for `/cluster`. */
  view(): PeerView[] {
    const now = Date.now();
    return this.peers.map((p) => ({
      address: p.address,
      state: p.state,
      ...(p.version === undefined ? {} : { version: p.version }),
      ...(p.checkedAt === 0 ? {} : { checked_ms_ago: now - p.checkedAt }),
    }));
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.running;
    await this.agent?.close();
  }

  private async check(p: Peer): Promise<void> {
    let state: PeerState;
    let version: string | undefined;
    try {
      const u = await undici();
      this.agent ??= new u.Agent({
        connections: 1,
        keepAliveTimeout: PEER_CHECK_MS * 2,
        ...(this.ca === undefined ? {} : { connect: { ca: this.ca } }),
      });
      const res = await u.request(`${this.scheme}://${p.address}/cluster`, {
        dispatcher: this.agent,
        signal: AbortSignal.timeout(PEER_TIMEOUT_MS),
      });
      const doc = (await res.body.json()) as { version?: unknown; map?: unknown };
      version = typeof doc.version === 'string' ? doc.version : undefined;
      state = res.statusCode === 200 && version === this.mine ? 'agrees' : 'disagrees';
      if (state === 'agrees' && doc.map !== undefined && this.onMap !== undefined)
        await this.onMap(doc.map, p.address).catch((err: unknown) => {
          this.log.error({ peer: p.address, err: (err as Error).message }, 'refused the live map of a peer');
        });
    } catch {
      state = 'unreachable';
    }
    p.checkedAt = Date.now();
    const was = p.state;
    p.state = state;
    p.version = version;
    if (state === was) return;
    if (state === 'disagrees')
      this.log.error(
        { peer: p.address, theirs: version, mine: this.mine },
        `CONFIG MISMATCH: node ${p.address} routes with config ${String(version)}, this node with ${this.mine}; give every node the same sharding.toml`,
      );
    else if (state === 'unreachable' && p.everAnswered)
      this.log.warn({ peer: p.address }, `node ${p.address} stopped answering`);
    else if (state === 'agrees' && was !== 'unknown')
      this.log.info({ peer: p.address }, `node ${p.address} answers with the same config`);
    if (state !== 'unreachable') p.everAnswered = true;
  }
}
