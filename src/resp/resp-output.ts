/**
 * RespOutput: a RESP connection's replies on their way out. Replies go out in command order
 * (reply-queue.ts), one socket write per burst, straight to the socket's handle
 * (src/server/direct-write.ts): replies written while a read is parsed leave at the end of that
 * read (RespConnection's `writeOut`), worker replies at the end of the event-loop turn
 * (turn-flush.ts), or at once past EARLY_WRITE_BYTES ("Large replies" below). Each write fits the
 * connection's window (`frontDoorWindow`, src/server/reply-window.ts) to the replies it carried:
 * how many replies may be outstanding before parsing stops (resp-connection.ts, "Flow control").
 *
 * Large replies: worker replies are written at the end of the turn, unless the replies gathered
 * reach EARLY_WRITE_BYTES: they are then written at once, as each reply arrives. A window of GETs of
 * large values (up to WINDOW_CAP_BYTES) arrives in one turn, a value or two per worker message
 * (src/worker/reply-batch.ts); gathered whole it grew one buffer to the window's size by doubling
 * (about 64 MiB copied twice, into fresh pages), and reached the socket, and the unsent budget
 * (src/server/unsent-budget.ts), only at the end: a client that reads nothing was closed only
 * once all of it was built. Written as they come, the buffer stays near one value, and the budget
 * closes such a client as its unsent bytes pass the budget; its later replies are dropped.
 *
 * RespConnection (resp-connection.ts: bytes in, parsing, flow control, the end) extends
 * RespOutput, which extends the client's RespSession (resp-session.ts): a command's reply and
 * the connection's write reach the queue, the window and the socket on one object, with no
 * object or call between them.
 */
import type { Socket } from 'node:net';
import { DirectWriter } from '../server/direct-write.js';
import { frontDoorWindow, type ReplyWindow } from '../server/reply-window.js';
import { ReplyQueue } from './reply-queue.js';
import type { RespContext } from './resp-context.js';
import { RespSession } from './resp-session.js';

/**
 * EARLY_WRITE_BYTES is how many bytes of replies a connection gathers before it writes them within
 * the turn (see "Large replies" above).
 */
export const EARLY_WRITE_BYTES = 1024 * 1024;

/** MAX_PIPELINE is how many replies may be outstanding before the connection stops reading. */
export const MAX_PIPELINE = 4096;

/** RespOutput writes a connection's replies (RespConnection adds the input, flow control and the end). */
export abstract class RespOutput extends RespSession {
  readonly queue: ReplyQueue;
  protected readonly socket: Socket;
  // writes the replies (src/server/direct-write.ts)
  private readonly out: DirectWriter;
  /** writeBlocked is set from a write the socket could not take until it drains (parsing stops meanwhile). */
  protected writeBlocked = false;
  private flushScheduled = false;
  /** window is how many replies may be outstanding before parsing stops (1..MAX_PIPELINE). */
  protected readonly window: ReplyWindow;

  constructor(socket: Socket, ctx: RespContext) {
    super(ctx);
    this.socket = socket;
    this.window = frontDoorWindow(ctx.config.server.max_value_bytes + 64, MAX_PIPELINE);
    this.queue = new ReplyQueue(
      () => {
        // Past EARLY_WRITE_BYTES the replies go to the socket now, not at the end of the turn.
        if (this.queue.out.length >= EARLY_WRITE_BYTES) this.writeReplies();
        this.scheduleFlush();
      },
      (store, seq) => {
        this.noteWrite(store, seq);
      },
      ctx.stats.errors,
    );
    socket.setNoDelay(true);
    // The replies waiting in the socket count in the process's unsent budget (src/server/unsent-budget.ts).
    this.out = new DirectWriter(
      socket,
      () => {
        this.writeBlocked = false;
        this.writeOut();
      },
      ctx.connections.unsent.open(socket),
    );
  }

  /** writeOut writes the replies ready so far and updates flow control (RespConnection). */
  protected abstract writeOut(): void;

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

  /** writeReplies hands the replies ready so far to the socket (one write); `writeOut` also updates flow control. */
  protected writeReplies(): void {
    const out = this.queue.out;
    if (this.socket.destroyed) {
      out.discard();
      return;
    }
    if (out.length === 0) return;
    this.window.fit(out.length, this.queue.outReplies);
    this.queue.outReplies = 0;
    // The replies' bytes in place: reused at once unless the socket keeps them (resp-format.ts);
    // an MGET's large values are parts of their own (`bulkShared`), sent with the rest in one writev.
    const sent = out.shared ? this.out.writev(out.chunks()) : this.out.write(out.view());
    out.release(this.out.retained);
    if (!sent) this.writeBlocked = true;
  }
}
