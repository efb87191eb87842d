/**
 * A watch stream as Server-Sent Events (docs/watch.md): a chunked `text/event-stream` response;
 * each event is `id: <cursor>`, `event: <type>`, `data: <json>`. A stream's own events (its hello,
 * catch-up, snapshot, progress) are gathered for GATHER_MS and go out as one write; a broadcast's
 * flush (broadcast.ts) is written at once, as it is, behind them. While the socket is full they
 * wait here and count as backlog (what the watcher's buffer limit bounds).
 */
import type { HttpResponse } from '../http/http1-exchange.js';
import { sseFrame } from './watch-event.js';
import type { WatchOutput } from './watcher.js';

/**
 * GATHER_MS is how long events wait to be written together: the feeds of a watcher's shards
 * deliver in different turns, and the fan-out costs one write per watcher per flush, not per batch.
 */
export const GATHER_MS = 5;
/** CUT_GRACE_MS is how long a stream that was told to resume may take to drain before it is closed. */
export const CUT_GRACE_MS = 30000;

/** SseOutput writes events to one streaming response. */
export class SseOutput implements WatchOutput {
  private readonly res: HttpResponse;
  readonly format = 'sse';
  private pending: (string | Buffer)[] = [];
  private pendingBytes = 0;
  private blocked = false;
  private scheduled = false;
  private ended = false;
  // a last event was sent: the response ends once it is written
  private ending = false;
  private waiters: (() => void)[] = [];

  constructor(res: HttpResponse) {
    this.res = res;
    res.onWritable(() => {
      this.blocked = false;
      if (this.ending) void this.finishIfDrained();
      else this.flush();
      return true;
    });
  }

  emit(type: string, json: string, cursor: string): void {
    if (this.ended || this.ending) return;
    const frame = sseFrame(json, type, cursor);
    this.pending.push(frame);
    this.pendingBytes += frame.length;
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

  emitBlock(block: Buffer, cursor: string): void {
    if (this.ended || this.ending) return;
    // An id-only block sets the stream's last event id without dispatching an event (the SSE spec).
    const id = `id: ${cursor}\n\n`;
    this.pending.push(block, id);
    this.pendingBytes += block.length + id.length;
    this.schedule();
  }

  emitShared(data: Buffer): void {
    if (this.ended || this.ending) return;
    if (this.pendingBytes > 0 || this.blocked) {
      this.pending.push(data);
      this.pendingBytes += data.length;
      if (!this.blocked) this.schedule();
      return;
    }
    if (this.res.aborted) return;
    this.blocked = !this.res.write(data);
  }

  /** comment sends an SSE comment line (a keep-alive nobody's parser sees as an event). */
  comment(text: string): void {
    if (this.ended || this.ending || this.blocked || this.res.aborted) return;
    this.blocked = !this.res.write(Buffer.from(`: ${text}\n\n`));
  }

  /** backlog counts only what waits for a full socket: a gathered write goes out within GATHER_MS. */
  backlog(): number {
    return this.blocked ? this.pendingBytes : 0;
  }

  drained(): Promise<void> {
    if (this.pendingBytes === 0 || this.ended || this.res.aborted) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * end sends a last event and ends the response once everything before it is written, keeping
   * the connection; one still not drained after CUT_GRACE_MS is closed (its client resumes from
   * the last id it read).
   */
  end(type: string, json: string, cursor: string): void {
    if (this.ended || this.ending) return;
    this.emit(type, json, cursor);
    this.ending = true;
    if (!this.finishIfDrained())
      setTimeout(() => {
        if (!this.ended && !this.res.aborted) this.res.close();
      }, CUT_GRACE_MS).unref();
  }

  /** finishIfDrained ends the response when everything is written; true when it is ended. */
  private finishIfDrained(): boolean {
    this.flush();
    if (this.ended) return true;
    if (this.blocked || this.pendingBytes > 0) return false;
    this.ended = true;
    this.wake();
    if (!this.res.aborted) this.res.end();
    return true;
  }

  private flush(): void {
    if (this.blocked || this.ended || this.pendingBytes === 0) return;
    if (this.res.aborted) {
      this.pending = [];
      this.pendingBytes = 0;
      this.wake();
      return;
    }
    const pieces = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    const data =
      pieces.length === 1 && typeof pieces[0] !== 'string'
        ? pieces[0]!
        : Buffer.concat(pieces.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
    this.blocked = !this.res.write(data);
    if (!this.blocked) this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }
}
