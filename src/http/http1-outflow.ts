/**
 * The output side of one HTTP/1.1 connection (http1-connection.ts): its writes, coalesced per
 * event-loop turn, and its flow control, which says when the connection may run another request.
 *
 * Writes: what the connection writes in one turn is kept (`write`) and written at the end of the
 * turn (`flush`, which the server calls once per turn for every connection that wrote): a lone
 * piece as it is, several in one writev, straight to the socket's handle
 * (src/server/direct-write.ts), whose unsent bytes are the socket's backlog.
 *
 * Flow control: a request runs (is handed to its route) only while fewer than the connection's
 * window of requests are unanswered and at most MAX_UNSENT_BYTES of answers wait in the socket or
 * in this turn's writes (`mayRun`: a route that answers at once is bounded by the bytes alone);
 * otherwise it and what follows it wait unparsed, reading pauses, and both resume once the
 * socket has drained (every byte handed to the kernel) and the unanswered requests are down to
 * half the window (`mayResume`). Running is what costs memory: an answer is built as soon as its
 * request runs, whether its client reads or not. The window (src/server/reply-window.ts) is fitted
 * at each flush to the answers that ended since the last one (`frontDoorWindow`: about 4 MiB of
 * them at their mean size, starting at 4, at most MAX_PENDING, and at most 64 MiB of answers of
 * the largest size). So a client that pipelines GETs of large values and reads nothing
 * makes the connection hold about MAX_UNSENT_BYTES plus one window of answers (and what the
 * kernel's socket buffers take), whatever it sent. What waits in the socket counts in the process's
 * budget of unsent bytes (src/server/unsent-budget.ts) when the connection has an account there.
 */
import type { Socket } from 'node:net';
import { DirectWriter } from '../server/direct-write.js';
import { frontDoorWindow, type ReplyWindow } from '../server/reply-window.js';
import type { UnsentAccount } from '../server/unsent-budget.js';

/** MAX_PENDING is the most pipelined requests that may await their answers before reading pauses. */
export const MAX_PENDING = 128;
/** MAX_UNSENT_BYTES is how many answer bytes may wait in the socket before requests stop running. */
export const MAX_UNSENT_BYTES = 4 * 1024 * 1024;

/** Http1Outflow writes one connection's bytes and decides when it may run requests. */
export class Http1Outflow {
  private readonly out: DirectWriter;
  /** account is the connection's share of the process's unsent budget; an upgraded protocol reports to it after `detach`. */
  readonly account: UnsentAccount | undefined;
  private readonly schedule: () => void;
  // bytes to write at the end of this turn: the first piece, then any others (see flush)
  private first: string | Uint8Array | undefined;
  private rest: (string | Uint8Array)[] | undefined;
  // their size (string lengths as characters): answered in this turn, not yet unsent
  private batched = 0;
  // how many requests may run unanswered; fitted at each flush to the answers ended since the
  // last one (`endedBytes` counts what those answers wrote)
  private readonly window: ReplyWindow;
  private endedReplies = 0;
  private endedBytes = 0;

  /**
   * `maxReplyBytes` is the largest answer a route may send (0: unknown); `onDrain` runs once the
   * socket took every byte after a write it could not; `schedule` asks for `flush` at the end of
   * this turn (called once per turn, at its first write); `account` is the connection's share of
   * the process's unsent budget (none: not counted).
   */
  constructor(
    socket: Socket,
    maxReplyBytes: number,
    onDrain: () => void,
    schedule: () => void,
    account?: UnsentAccount,
  ) {
    this.window = frontDoorWindow(maxReplyBytes, MAX_PENDING);
    this.out = new DirectWriter(socket, onDrain, account);
    this.account = account;
    this.schedule = schedule;
  }

  /** unsent is the number of bytes written and not yet handed to the kernel. */
  get unsent(): number {
    return this.out.unsent;
  }

  /** needDrain is true from a write the socket could not take until the drain. */
  get needDrain(): boolean {
    return this.out.needDrain;
  }

  /** mayRun says whether a request may run while `unanswered` requests are. */
  mayRun(unanswered: number): boolean {
    return unanswered < this.window.size && this.out.unsent + this.batched <= MAX_UNSENT_BYTES;
  }

  /** mayResume says whether a connection paused by mayRun may read again. */
  mayResume(unanswered: number): boolean {
    if (this.out.needDrain || this.out.unsent > MAX_UNSENT_BYTES) return false;
    return unanswered <= this.window.size >> 1;
  }

  /** ended counts an answer that wrote `bytes` for the next fit of the window. */
  ended(bytes: number): void {
    this.endedReplies++;
    this.endedBytes += bytes;
  }

  /** write queues bytes for the end of this turn (they must stay valid until then). */
  write(data: string | Uint8Array): void {
    this.batched += data.length;
    if (this.first === undefined) {
      this.first = data;
      this.schedule();
    } else (this.rest ??= []).push(data);
  }

  /** flush writes what this turn queued, unless `discard` (the socket closed); true when it wrote. */
  flush(discard: boolean): boolean {
    if (this.endedReplies > 0) {
      this.window.fit(this.endedBytes, this.endedReplies);
      this.endedReplies = 0;
      this.endedBytes = 0;
    }
    const first = this.first;
    if (first === undefined) return false;
    const rest = this.rest;
    this.first = undefined;
    this.rest = undefined;
    this.batched = 0;
    if (discard) return false;
    if (rest === undefined) this.out.write(first);
    else {
      rest.unshift(first);
      this.out.writev(rest);
    }
    return true;
  }
}
