/**
 * RespConnection: one client connection of a RESP listener: bytes in → parser → commands →
 * dispatch; replies out in command order (reply-queue.ts), one socket write per burst: replies
 * written while a read is parsed leave at the end of that read, worker replies at the end of the
 * event-loop turn (turn-flush.ts).
 *
 * Flow control: reading pauses while the socket's write buffer is full, and while more than
 * MAX_PIPELINE replies are outstanding (the rest of the input stays buffered in the parser and is
 * parsed again once replies drain), so a client pipelining without reading cannot grow memory
 * without bound. QUIT and protocol errors stop reading; the connection ends once every earlier
 * reply is written.
 */
import type { Socket } from 'node:net';
import { RespParser } from './resp-parser.js';
import type { ProtocolVersion } from './resp-format.js';
import { ReplyQueue } from './reply-queue.js';
import type { RespContext } from './resp-context.js';

/** MAX_PIPELINE is how many replies may be outstanding before the connection stops reading. */
export const MAX_PIPELINE = 4096;

/** Dispatch runs one command on a connection. */
export type Dispatch = (c: RespConnection, args: Buffer[]) => void;

/** RespConnection is one client's session. */
export class RespConnection {
  readonly id: number;
  readonly ctx: RespContext;
  readonly queue: ReplyQueue;
  proto: ProtocolVersion = 2;
  /** readonly is set by READONLY: reads may be served by this node's replicas. */
  readonly = false;
  name = '';
  /** lastWrites holds, per store, the seq of this connection's newest acknowledged write (for WAIT). */
  readonly lastWrites = new Map<number, number>();
  private readonly socket: Socket;
  private readonly parser: RespParser;
  private readonly dispatch: Dispatch;
  private closing = false;
  private writeBlocked = false;
  private pipelineFull = false;
  /** paused mirrors whether the socket was last paused (so reading is resumed only when it was). */
  private paused = false;
  private flushScheduled = false;
  private readonly onCommandBound = (args: Buffer[]): boolean => this.onCommand(args);

  constructor(socket: Socket, ctx: RespContext, dispatch: Dispatch) {
    this.socket = socket;
    this.ctx = ctx;
    this.dispatch = dispatch;
    this.id = ctx.nextClientId();
    this.parser = new RespParser(ctx.config.server.max_value_bytes + 1024 * 1024);
    this.authenticated = ctx.config.server.token === '';
    this.queue = new ReplyQueue(
      () => {
        this.scheduleFlush();
      },
      (store, seq) => {
        this.noteWrite(store, seq);
      },
    );
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.feed(chunk);
    });
    socket.on('drain', () => {
      this.writeBlocked = false;
      this.updateFlow();
    });
    socket.on('error', () => {
      socket.destroy();
    });
  }

  /** authenticated is false until AUTH while a token is set; the parser then applies Redis's limits before AUTH. */
  get authenticated(): boolean {
    return !this.parser.authRequired;
  }

  set authenticated(yes: boolean) {
    this.parser.authRequired = !yes;
  }

  /** remote describes the peer as "ip:port". */
  get remote(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? 0}`;
  }

  /** quit ends the connection once the replies so far are written (QUIT). */
  quit(): void {
    this.closing = true;
  }

  /** noteWrite records an acknowledged write for WAIT. */
  noteWrite(store: number, seq: number): void {
    if (seq > (this.lastWrites.get(store) ?? 0)) this.lastWrites.set(store, seq);
  }

  /** end closes the connection at once (the listener is shutting down). */
  end(): void {
    this.socket.destroy();
  }

  private feed(chunk: Buffer | undefined): void {
    if (this.closing) return;
    const error = this.parser.feed(chunk, this.onCommandBound);
    if (error !== undefined) {
      this.queue.now(this.proto).error(`ERR ${error}`);
      this.closing = true;
    }
    this.writeOut();
  }

  private onCommand(args: Buffer[]): boolean {
    this.dispatch(this, args);
    if (this.closing) return false;
    if (this.queue.depth >= MAX_PIPELINE) {
      this.pipelineFull = true;
      this.updateFlow();
      return false;
    }
    return true;
  }

  /**
   * scheduleFlush writes worker replies at the end of the event-loop turn (setImmediate), not after
   * each reply batch (a microtask): a pipeline whose keys live on several workers gets one write
   * for all the batches that arrived in the same turn.
   */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.ctx.turnFlush.schedule(this);
  }

  /** flush is the end-of-turn write that scheduleFlush asked for. */
  flush(): void {
    this.flushScheduled = false;
    this.writeOut();
  }

  /** writeOut writes the replies ready so far (one socket write) and updates flow control. */
  private writeOut(): void {
    const socket = this.socket;
    if (socket.destroyed) return;
    if (this.queue.out.length > 0 && !socket.write(this.queue.out.take())) {
      this.writeBlocked = true;
    }
    if (this.closing && this.queue.depth === 0) {
      socket.end();
      return;
    }
    if (this.pipelineFull && this.queue.depth < MAX_PIPELINE / 2) {
      this.pipelineFull = false;
      this.feed(undefined);
    }
    this.updateFlow();
  }

  private updateFlow(): void {
    const pause = this.writeBlocked || this.pipelineFull;
    if (pause === this.paused || this.socket.destroyed) return;
    this.paused = pause;
    if (pause) this.socket.pause();
    else this.socket.resume();
  }
}
