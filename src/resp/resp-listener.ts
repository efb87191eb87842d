/**
 * RespListener: the RESP (Redis protocol) listener of one node, on the main thread next to the
 * HTTP front door, at the node's RESP address (resp-address.ts). Each connection parses commands
 * and submits their ops to the same worker pool as HTTP requests (docs/resp.md).
 *
 * Lifecycle: `listen()` right after the HTTP front door, before the stores open (data commands
 * answer `-LOADING` until the node serves: RespContext.loading); on shutdown `stopAccepting()` first: each open
 * connection answers the commands it has read (in-flight replies still go out while the node
 * drains) and then ends with a FIN (RespConnection.drain). One with nothing outstanding reads on
 * and answers what its client sent as the stop began: the node waits until `quietMs()` says no
 * command has come for a while, then `endIdle()` ends those still idle; `close()` ends the ones
 * that remain.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { SharedRead } from '../server/shared-read.js';
import { COMMAND_NAMES } from './command-table.js';
import { dispatch, dispatchGetSet } from './command-dispatch.js';
import type { RespEndpoint } from './resp-address.js';
import { RespConnection } from './resp-connection.js';
import type { RespContext, RespStats } from './resp-context.js';
import { ClientPause } from './client-pause.js';
import { KeyspaceExpiries } from './keyspace-expiries.js';
import { ErrorCounts } from './resp-metrics.js';
import { ScanCursors } from './scan-cursors.js';
import { TurnFlush } from './turn-flush.js';

/** MAX_CLIENTS_REPLY is Redis's answer to a connection over `maxclients`, word for word. */
const MAX_CLIENTS_REPLY = '-ERR max number of clients reached\r\n';

/** RespShared is what every RESP listener of a process shares; each adds its own node's plan. */
export type RespShared = Omit<
  RespContext,
  'listener' | 'cursors' | 'draining' | 'turnFlush' | 'stats' | 'expiries' | 'clients' | 'pause'
>;

/** RespListener serves RESP for one node. */
export class RespListener {
  readonly endpoint: RespEndpoint;
  /** address is the node (config address) this listener speaks for. */
  readonly address: string;
  /** stats are what this listener's connections did (INFO, /metrics: resp-metrics.ts). */
  readonly stats: RespStats;
  private readonly server: Server;
  private readonly connections = new Set<RespConnection>();
  private readonly pause = new ClientPause();
  private draining = false;
  /** stoppedAt is when stopAccepting was called (performance.now()): quietMs counts from it. */
  private stoppedAt = 0;
  /** lastDrainCommandAt is the latest RespConnection.lastDrainCommandAt of the connections closed since. */
  private lastDrainCommandAt = 0;

  constructor(shared: RespShared, listener: RespContext['listener'], endpoint: RespEndpoint) {
    this.endpoint = endpoint;
    this.address = listener.address;
    const ctx: RespContext = {
      ...shared,
      listener,
      cursors: new ScanCursors(),
      draining: () => this.draining,
      turnFlush: new TurnFlush(),
      stats: {
        commands: 0,
        connections: 0,
        blocked: 0,
        calls: new Float64Array(COMMAND_NAMES.length),
        errors: new ErrorCounts(),
      },
      expiries: new KeyspaceExpiries(shared.pool),
      clients: () => this.connections,
      pause: this.pause,
    };
    this.stats = ctx.stats;
    const reads = new SharedRead();
    // Half-open: a client that sends its commands and then shuts down its side (`printf ... | nc -N`)
    // still gets every reply; the connection ends once they are written (RespConnection).
    this.server = createServer(
      { noDelay: true, pauseOnConnect: true, allowHalfOpen: true },
      (accepted: Socket) => {
        const release = ctx.connections.admit();
        if (release === undefined) {
          ctx.connections.refuse(accepted, MAX_CLIENTS_REPLY);
          return;
        }
        ctx.stats.connections++;
        let conn: RespConnection | undefined = undefined;
        const socket = reads.adopt(accepted, true, (chunk, transient) => {
          conn?.read(chunk, transient);
        });
        const c = new RespConnection(socket, ctx, dispatch, dispatchGetSet);
        conn = c;
        this.connections.add(c);
        socket.on('close', () => {
          if (c.lastDrainCommandAt > this.lastDrainCommandAt) this.lastDrainCommandAt = c.lastDrainCommandAt;
          this.connections.delete(c);
          release();
        });
      },
    );
  }

  /** open is the number of this listener's connections open now. */
  get open(): number {
    return this.connections.size;
  }

  /** listen binds the endpoint; it rejects (EADDRINUSE, ...) with a message naming it. */
  listen(): Promise<void> {
    const { host, port } = this.endpoint;
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(
          new Error(
            `RESP listener on ${host}:${port}: ${err.message} (server.resp_port_offset moves it; 0 turns RESP off)`,
          ),
        );
      };
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
  }

  /**
   * stopAccepting closes the listening socket and drains the open connections: each gets the
   * replies in flight and `-TRYAGAIN` for the commands on keys it has read, as HTTP requests get
   * 503 while the node drains, and then ends (RespConnection.drain). A CLIENT PAUSE ends, so that
   * the commands it holds are answered too.
   */
  stopAccepting(): void {
    if (this.draining) return;
    this.draining = true;
    this.stoppedAt = performance.now();
    if (this.server.listening) this.server.close();
    this.pause.unpause();
    for (const c of this.connections) c.drain();
  }

  /**
   * quietMs is how long no command has run on this listener's connections since stopAccepting
   * (Infinity with no connection left): a stop ends the idle ones (`endIdle`) once it is quiet for
   * a while, as the HTTP front door's (Http1Server.quietMs).
   */
  quietMs(): number {
    if (this.connections.size === 0) return Infinity;
    let last = Math.max(this.stoppedAt, this.lastDrainCommandAt);
    for (const c of this.connections) if (c.lastDrainCommandAt > last) last = c.lastDrainCommandAt;
    return performance.now() - last;
  }

  /** endIdle ends, with a FIN, the draining connections that have run no command since the drain began. */
  endIdle(): void {
    for (const c of this.connections) c.endIdle();
  }

  /** close ends every open connection. */
  close(): void {
    this.stopAccepting();
    this.pause.close();
    for (const c of this.connections) c.end();
    this.connections.clear();
  }
}
