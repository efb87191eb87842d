/**
 * A watch stream over a WebSocket (docs/watch.md): after the upgrade (watch-routes.ts) the socket
 * is this session's. Server → client: one text message per event (the same JSON as SSE). Client →
 * server: pings are answered, a close is answered and ends the stream, other messages are ignored;
 * a refused frame (websocket-format.ts) closes with its code. A stream's own events are gathered
 * for GATHER_MS into one write; a broadcast's flush (broadcast.ts) is written at once, behind them.
 * While the socket is full they wait here and count as backlog.
 */
import type { Socket } from 'node:net';
import {
  CLOSE_NORMAL,
  encodeClose,
  encodeFrame,
  OP_PONG,
  OP_TEXT,
  WsParser,
  WsProtocolError,
} from '../http/websocket-format.js';
import { CUT_GRACE_MS, GATHER_MS } from './sse-output.js';
import type { WatchOutput } from './watcher.js';

/** MAX_CLIENT_MESSAGE bounds what a watch client may send in one message. */
export const MAX_CLIENT_MESSAGE = 64 * 1024;
/** CLOSE_RESUME is the close code of a stream told to resume (a slow watcher, a draining node). */
export const CLOSE_RESUME = 4000;
// the code a parsed close frame reports when it carried none (RFC 6455 section 7.1.5)
const NO_CODE = 1005;

/** WsSession is one upgraded watch connection. */
export class WsSession implements WatchOutput {
  private readonly socket: Socket;
  private readonly parser = new WsParser(MAX_CLIENT_MESSAGE);
  readonly format = 'ws';
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private blocked = false;
  private scheduled = false;
  private closed = false;
  private waiters: (() => void)[] = [];

  /** `onClose` runs once when the session ends, whoever ends it. */
  constructor(socket: Socket, head: Buffer, onClose: () => void) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.onData(chunk);
    });
    socket.on('drain', () => {
      this.blocked = false;
      this.flush();
    });
    socket.on('end', () => {
      this.shutdown(CLOSE_NORMAL, '');
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
      onClose();
    });
    socket.resume();
    if (head.length > 0) this.onData(head);
  }

  emit(_type: string, json: string): void {
    if (this.closed) return;
    this.emitBlock(encodeFrame(OP_TEXT, Buffer.from(json)));
  }

  emitBlock(block: Buffer): void {
    if (this.closed) return;
    this.pending.push(block);
    this.pendingBytes += block.length;
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      this.flush();
    }, GATHER_MS);
  }

  emitShared(data: Buffer): void {
    if (this.closed) return;
    if (this.pendingBytes > 0 || this.blocked) {
      this.pending.push(data);
      this.pendingBytes += data.length;
      if (!this.blocked) this.schedule();
      return;
    }
    if (this.socket.destroyed) return;
    this.blocked = !this.socket.write(data);
  }

  /** backlog counts only what waits for a full socket: a gathered write goes out within GATHER_MS. */
  backlog(): number {
    return this.blocked ? this.pendingBytes : 0;
  }

  drained(): Promise<void> {
    if (this.pendingBytes === 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  end(type: string, json: string): void {
    this.emit(type, json);
    this.blocked = false;
    this.flush();
    this.shutdown(CLOSE_RESUME, 'resume');
  }

  /** shutdown sends a close frame and ends the socket (destroyed if the peer does not close in time). */
  shutdown(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.end(encodeClose(code, reason));
    setTimeout(() => this.socket.destroy(), CUT_GRACE_MS).unref();
  }

  private isOver(): boolean {
    return this.closed;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    try {
      for (const m of this.parser.push(chunk)) {
        if (m.kind === 'ping') this.socket.write(encodeFrame(OP_PONG, m.data));
        // A close is answered with the code it carried (RFC 6455 section 5.5.1), 1000 when none.
        else if (m.kind === 'close') this.shutdown(m.code === NO_CODE ? CLOSE_NORMAL : m.code, '');
        if (this.isOver()) return;
      }
    } catch (err) {
      if (err instanceof WsProtocolError) this.shutdown(err.code, err.message);
      else throw err;
    }
  }

  private flush(): void {
    if (this.blocked || this.pendingBytes === 0) return;
    if (this.socket.destroyed) {
      this.pending = [];
      this.pendingBytes = 0;
      this.wake();
      return;
    }
    const data =
      this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.blocked = !this.socket.write(data);
    if (!this.blocked) this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }
}
