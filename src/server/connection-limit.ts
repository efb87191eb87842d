/**
 * The limit on a process's open client connections (`server.max_connections`, as Redis's
 * `maxclients`), one count shared by every HTTP and RESP listener of the process.
 *
 * A listener asks `admit` for each accepted socket and calls the release it gets back when that
 * socket closes (whatever protocol the socket went on to speak: a WebSocket taken over from HTTP
 * still counts). A socket refused gets its protocol's answer (HTTP: 503 with the catalogue's JSON
 * and `Connection: close`; RESP: Redis's `-ERR max number of clients reached`) and is closed by
 * `refuse`, which reads and discards what the client sends until it closes or REFUSE_LINGER_MS
 * pass, so the answer is not lost to a reset. At most REFUSE_LINGER_MAX refused sockets linger at
 * once: in a flood of connections the others are closed as soon as their answer is written, so
 * refusing does not take the file descriptors the stores need (open-file-limit.ts fits `max` to
 * the process's open-file limit with that many kept aside). Connections between nodes (replication pulls,
 * forwarded requests) are clients of the listener they reach and count there, as Redis counts
 * its replicas.
 *
 * It is also where the process counts what happens to its connections, for RESP's INFO and
 * /metrics: the connections refused over the limit, and those closed by the idle sweep (idle, or
 * stalled: its client stopped reading answers that wait unsent); and it holds the process's budget
 * of unsent answer bytes (unsent-budget.ts), which counts the connections it closes.
 */
import type { Socket } from 'node:net';
import { UnsentBudget } from './unsent-budget.js';

/** REFUSE_LINGER_MS is how long a refused socket may stay open after its answer. */
const REFUSE_LINGER_MS = 2000;
/** REFUSE_LINGER_MAX is the most refused sockets left open after their answer at once. */
export const REFUSE_LINGER_MAX = 64;

/** ConnectionLimit counts a process's open connections against `max`. */
export class ConnectionLimit {
  /** max is the most connections open at once. */
  readonly max: number;
  /** unsent is the process's budget of unsent answer bytes (every connection's writer reports to it). */
  readonly unsent: UnsentBudget;
  /** refused counts the connections refused over `max` (INFO's rejected_connections). */
  refused = 0;
  /** closedIdle counts the connections the idle sweep closed with nothing pending. */
  closedIdle = 0;
  /** closedStalled counts those it closed because answers waited unsent and none moved for the idle limit. */
  closedStalled = 0;
  private count = 0;
  // refused sockets open after their answer (at most REFUSE_LINGER_MAX)
  private lingering = 0;

  /** fitted is the open-file limit `max` was lowered to fit (open-file-limit.ts), if it was. */
  readonly fitted: number | undefined;

  /** `unsent` defaults to a budget with no limit. */
  constructor(max: number, unsent: UnsentBudget = new UnsentBudget(0), fitted?: number) {
    this.max = max;
    this.unsent = unsent;
    this.fitted = fitted;
  }

  /** describe says what the limit is and where it comes from, for the answer to a refused client. */
  describe(): string {
    return this.fitted === undefined
      ? `server.max_connections is ${this.max}`
      : `${this.max} connections: server.max_connections is lowered to fit the open-file limit, ulimit -n ${this.fitted}`;
  }

  /** open is the number of connections admitted and not yet closed. */
  get open(): number {
    return this.count;
  }

  /** admit counts one more connection and returns its release, or undefined (counted in `refused`) when the limit is reached. */
  admit(): (() => void) | undefined {
    if (this.count >= this.max) {
      this.refused++;
      return undefined;
    }
    this.count++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.count--;
    };
  }

  /** refuse writes `answer` to a socket that was not admitted, then closes it (see the module comment). */
  refuse(socket: Socket, answer: string): void {
    socket.on('error', () => undefined);
    if (this.lingering >= REFUSE_LINGER_MAX) {
      socket.end(answer, () => socket.destroy());
      return;
    }
    this.lingering++;
    socket.once('close', () => {
      this.lingering--;
    });
    socket.on('data', () => undefined);
    socket.end(answer);
    socket.resume();
    setTimeout(() => socket.destroy(), REFUSE_LINGER_MS).unref();
  }
}
