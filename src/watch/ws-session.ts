/**
 * A watch stream over a WebSocket (docs/watch.md): after the upgrade (watch-routes.ts) the socket
 * is this session's. Server → client: one text message per event (the same JSON as SSE). Client →
 * server: pings are answered, a close is answered and ends the stream, other messages are ignored;
 * a refused frame (websocket-format.ts) closes with its code. What it writes, and when, is
 * gathered-writes.ts's: the stream's own messages gathered for GATHER_MS, a broadcast's flush at
 * once, everything held (as backlog) while the socket is full. Pongs are written at once; a client
 * that sends pings without reading the pongs is not read from while more than READ_PAUSE_BYTES
 * wait to go out to it (TCP then holds it back), so what it makes the server buffer stays bounded.
 *
 * Unsent budget: what waits in the socket (written, not yet taken by the kernel) is reported to the
 * connection's account in the process's `server.max_unsent_bytes` (src/server/unsent-budget.ts),
 * as the HTTP writer reports an SSE stream's: after each write and when each write leaves. The
 * watcher's `max_buffer_bytes` bounds it for one connection (a full socket holds the write that
 * filled it; the rest waits in gathered-writes.ts until the watcher is cut, when it is written
 * whole with the `resume` and may wait up to CUT_GRACE_MS), but only the budget bounds the sum
 * over every watcher, so it counts here too, and the budget may close the socket.
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
import type { UnsentAccount } from '../server/unsent-budget.js';
import { GatheredWrites, type SharedFlush } from './gathered-writes.js';
import { CUT_GRACE_MS } from './sse-output.js';
import type { WatchOutput } from './watcher.js';

/** MAX_CLIENT_MESSAGE bounds what a watch client may send in one message. */
export const MAX_CLIENT_MESSAGE = 64 * 1024;
/** CLOSE_RESUME is the close code of a stream told to resume (a slow watcher, a draining node). */
export const CLOSE_RESUME = 4000;
/** READ_PAUSE_BYTES: over this many bytes waiting to go out, the client's frames are not read until they drain. */
export const READ_PAUSE_BYTES = 64 * 1024;
// the code a parsed close frame reports when it carried none (RFC 6455 section 7.1.5)
const NO_CODE = 1005;

/** WsSession is one upgraded watch connection. */
export class WsSession implements WatchOutput {
  private readonly socket: Socket;
  private readonly parser = new WsParser(MAX_CLIENT_MESSAGE);
  private readonly writes: GatheredWrites;
  readonly format = 'ws';
  private closed = false;
  /** closer destroys a socket whose peer did not answer our close in time; cleared once it closed. */
  private closer: NodeJS.Timeout | undefined;
  /** account is the connection's share of the unsent budget, told the socket's backlog. */
  private readonly account: UnsentAccount | undefined;
  /** counted is a write's callback: its bytes left the socket's buffer. */
  private readonly counted = (): void => {
    this.account?.update(this.socket.writableLength);
  };

  /** `onClose` runs once when the session ends, whoever ends it; `account` is the connection's in the unsent budget. */
  constructor(socket: Socket, head: Buffer, onClose: () => void, account?: UnsentAccount) {
    this.socket = socket;
    this.account = account;
    this.writes = new GatheredWrites({
      write: (data) => this.write(data),
      // after shutdown the socket is ended: nothing more may be written to it
      gone: () => this.closed || socket.destroyed,
    });
    socket.on('data', (chunk: Buffer) => {
      this.onData(chunk);
    });
    socket.on('drain', () => {
      this.writes.writable();
      if (!this.closed) socket.resume();
    });
    socket.on('end', () => {
      this.shutdown(CLOSE_NORMAL, '');
    });
    // A client that resets the connection makes the next write (or read) fail with EPIPE or
    // ECONNRESET: the socket is then destroyed and 'close' ends the session. The session owns the
    // socket after the upgrade, so it listens itself rather than rely on whoever accepted it (an
    // 'error' without a listener would end the process).
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(this.closer);
      this.closed = true;
      this.writes.release();
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
    this.writes.add(block);
  }

  emitShared(flush: SharedFlush): void {
    if (this.closed) return;
    this.writes.shared(flush);
  }

  backlog(): number {
    return this.writes.backlog();
  }

  drained(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.writes.drained();
  }

  end(type: string, json: string): void {
    if (this.closed) return;
    this.emit(type, json);
    this.writes.flush(true);
    this.shutdown(CLOSE_RESUME, 'resume');
  }

  /** shutdown sends a close frame and ends the socket (destroyed if the peer does not close in time). */
  shutdown(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.end(encodeClose(code, reason));
    this.counted();
    // Cleared on close: a session must not outlive its socket by CUT_GRACE_MS (clients that
    // connect and leave in a loop would otherwise pile up sessions for that long).
    this.closer = setTimeout(() => this.socket.destroy(), CUT_GRACE_MS).unref();
  }

  /** write writes `data` and reports the socket's backlog now and once `data` left it; false when the socket is full. */
  private write(data: Buffer): boolean {
    const ok = this.socket.write(data, this.counted);
    this.counted();
    return ok;
  }

  private isOver(): boolean {
    return this.closed;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    try {
      for (const m of this.parser.push(chunk)) {
        if (m.kind === 'ping') this.write(encodeFrame(OP_PONG, m.data));
        // A close is answered with the code it carried (RFC 6455 section 5.5.1), 1000 when none.
        else if (m.kind === 'close') this.shutdown(m.code === NO_CODE ? CLOSE_NORMAL : m.code, '');
        if (this.isOver()) return;
      }
      if (this.socket.writableLength > READ_PAUSE_BYTES) this.socket.pause();
    } catch (err) {
      if (err instanceof WsProtocolError) this.shutdown(err.code, err.message);
      else throw err;
    }
  }
}
