/**
 * A watch stream as Server-Sent Events (docs/watch.md): a chunked `text/event-stream` response;
 * each event is `id: <cursor>`, `event: <type>`, `data: <json>`. The events of one event-loop turn
 * go out as one write; while the socket is full they wait here and count as backlog (what the
 * watcher's buffer limit bounds).
 */
import type { HttpResponse } from '../http/http1-exchange.js';
import { sseFrame } from './watch-event.js';
import type { WatchOutput } from './watcher.js';

/** CUT_GRACE_MS is how long a stream that was told to resume may take to drain before it is closed. */
export const CUT_GRACE_MS = 5000;

/** SseOutput writes events to one streaming response. */
export class SseOutput implements WatchOutput {
  private readonly res: HttpResponse;
  private pending: string[] = [];
  private pendingBytes = 0;
  private blocked = false;
  private scheduled = false;
  private ended = false;
  private waiters: (() => void)[] = [];

  constructor(res: HttpResponse) {
    this.res = res;
    res.onWritable(() => {
      this.blocked = false;
      this.flush();
      return true;
    });
  }

  emit(type: string, json: string, cursor: string): void {
    if (this.ended) return;
    const frame = sseFrame(json, type, cursor);
    this.pending.push(frame);
    this.pendingBytes += frame.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** comment sends an SSE comment line (a keep-alive nobody's parser sees as an event). */
  comment(text: string): void {
    if (this.ended || this.blocked || this.res.aborted) return;
    this.blocked = !this.res.write(Buffer.from(`: ${text}\n\n`));
  }

  backlog(): number {
    return this.pendingBytes;
  }

  drained(): Promise<void> {
    if (this.pendingBytes === 0 || this.ended || this.res.aborted) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  end(type: string, json: string, cursor: string): void {
    if (this.ended) return;
    this.emit(type, json, cursor);
    this.ended = true;
    const data = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    this.wake();
    if (this.res.aborted) return;
    this.res.end(Buffer.from(data), true);
    setTimeout(() => {
      if (!this.res.aborted) this.res.close();
    }, CUT_GRACE_MS).unref();
  }

  private flush(): void {
    if (this.blocked || this.ended || this.pendingBytes === 0) return;
    if (this.res.aborted) {
      this.pending = [];
      this.pendingBytes = 0;
      this.wake();
      return;
    }
    const data = this.pending.length === 1 ? this.pending[0]! : this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    this.blocked = !this.res.write(Buffer.from(data));
    if (!this.blocked) this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }
}
