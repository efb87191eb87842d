/**
 * The process-wide budget of unsent answer bytes (`server.max_unsent_bytes`, as Redis's
 * `maxmemory-clients`): what every HTTP and RESP connection of the process built for its client
 * and could not send yet, counted together, and the connections closed when that total passes the
 * budget.
 *
 * Why: each connection bounds what it holds on its own (src/server/reply-window.ts: a few MiB of
 * answers, at most 64 MiB of max-size values), but their sum is bounded only by
 * `server.max_connections` times that. Many clients that send GETs and read nothing exhaust memory
 * well before the idle sweep (10-12 s) closes them.
 *
 * Accounting: each connection's writer (src/server/direct-write.ts) has one `UnsentAccount` and
 * tells it its unsent bytes (the socket's backlog: bytes written and not yet handed to the
 * kernel) whenever that figure can have changed: after a write that did not complete at once,
 * after each queued write completes, at `'drain'`, and at close (the account then drops to 0 and
 * leaves). The budget's `total` is the sum of the accounts' last figures, kept by adding each
 * change: a counter update per write that leaves bytes behind, nothing for one the kernel took
 * whole, and no scan of the connections.
 *
 * Eviction: when an update takes `total` over `maxBytes`, one check is queued (a microtask, after
 * the write that caused it returns). The check closes the connection holding the most unsent bytes,
 * then the next largest, until `total` is back within the budget; each is logged once with its
 * peer and amount and counted in `evicted`. Largest first: a client that reads its answers holds
 * at most what is in transit, so it is never closed while one that does not read holds more. The
 * scan over the holders (accounts with bytes, not every connection) happens only when over the
 * budget. Connections between nodes (replication pulls, forwarded requests) count like any client,
 * as Redis counts its replicas' buffers: they read what they asked for, so they hold little. None
 * is exempt. A replica's snapshot stream (`/_repl/snapshot`) holds at most two pages of 4 MiB and
 * one value each (src/http/snapshot-route.ts), less than a client's answers may hold, so it is closed
 * only when it is the largest holder while the process is over its budget (Redis never evicts its
 * replicas, but their output buffers hold the whole backlog of a full sync; an exemption without a
 * bound on how many streams, and what each holds, would be a hole in the budget).
 *
 * Upgraded connections: a WebSocket watch stream (src/watch/ws-session.ts) reports its socket's
 * backlog to the account of the connection it was upgraded from, as the HTTP writer does for an SSE
 * stream. The watcher's `max_buffer_bytes` bounds one stream; the budget bounds their sum. What a
 * watcher keeps before writing (gathered-writes.ts, up to its `max_buffer_bytes`) is not in the
 * socket and is not counted, over either transport. `maxBytes` 0 is no limit (the total is still
 * kept, for INFO and /metrics).
 */
/** Evictable is what the budget closes: a connection's socket (a net.Socket, or a test's twin). */
export interface Evictable {
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  destroy(): void;
}

/** EvictionLog is told about each connection the budget closes. */
export type EvictionLog = (peer: string, unsentBytes: number, totalBytes: number, maxBytes: number) => void;

/** UnsentAccount is one connection's share of the budget; written only by that connection's writer. */
export class UnsentAccount {
  /** bytes is the connection's unsent bytes as last reported. */
  bytes = 0;
  /** closed is set once the connection closed or was evicted: later reports are ignored. */
  closed = false;
  /** socket is what eviction destroys. */
  readonly socket: Evictable;
  private readonly budget: UnsentBudget;

  constructor(budget: UnsentBudget, socket: Evictable) {
    this.budget = budget;
    this.socket = socket;
  }

  /** update reports the connection's unsent bytes now. */
  update(unsent: number): void {
    if (unsent === this.bytes || this.closed) return;
    this.budget.change(this, unsent);
  }

  /** close takes the connection out of the budget (it closed). */
  close(): void {
    if (this.closed) return;
    if (this.bytes !== 0) this.budget.change(this, 0);
    this.closed = true;
  }
}

/** UnsentBudget counts the process's unsent answer bytes and closes the largest holders when over `maxBytes`. */
export class UnsentBudget {
  /** maxBytes is the budget; 0 = no limit. */
  readonly maxBytes: number;
  /** total is the sum of the open accounts' bytes. */
  total = 0;
  /** evicted counts the connections closed by the budget (INFO's evicted_clients). */
  evicted = 0;
  // the accounts with bytes > 0: where the check looks for the largest
  private readonly holders = new Set<UnsentAccount>();
  private checkQueued = false;
  private readonly log: EvictionLog | undefined;
  private readonly checkBound = (): void => {
    this.check();
  };

  /** `maxBytes` 0 = no limit; `log` is told about each eviction. */
  constructor(maxBytes: number, log?: EvictionLog) {
    this.maxBytes = maxBytes;
    this.log = log;
  }

  /** open starts the account of a connection on `socket`. */
  open(socket: Evictable): UnsentAccount {
    return new UnsentAccount(this, socket);
  }

  /** change sets `account`'s bytes (called by UnsentAccount only). */
  change(account: UnsentAccount, bytes: number): void {
    this.total += bytes - account.bytes;
    if (bytes === 0) this.holders.delete(account);
    else if (account.bytes === 0) this.holders.add(account);
    account.bytes = bytes;
    if (this.maxBytes > 0 && this.total > this.maxBytes && !this.checkQueued) {
      this.checkQueued = true;
      queueMicrotask(this.checkBound);
    }
  }

  /** check closes the largest holders until the total is within the budget. */
  check(): void {
    this.checkQueued = false;
    while (this.maxBytes > 0 && this.total > this.maxBytes) {
      let largest: UnsentAccount | undefined;
      for (const a of this.holders) if (largest === undefined || a.bytes > largest.bytes) largest = a;
      if (largest === undefined) return;
      const bytes = largest.bytes;
      const peer = `${largest.socket.remoteAddress ?? '?'}:${largest.socket.remotePort ?? 0}`;
      largest.close();
      this.evicted++;
      this.log?.(peer, bytes, this.total + bytes, this.maxBytes);
      largest.socket.destroy();
    }
  }
}
