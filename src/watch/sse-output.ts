/**
 * A watch stream over a chunked HTTP response (docs/watch.md): Server-Sent Events
 * (`text/event-stream`; each event is `id: <cursor>`, `event: <type>`, `data: <json>`) or the
 * binary stream, version 1 or 2 (watch-binary-format.ts: changes as binary frames, any other
 * event as a JSON frame, no cursor lines: its changes carry their versions). What it writes, and when, is
 * gathered-writes.ts's: the stream's own events gathered for GATHER_MS, a broadcast's flush at once
 * as one pre-framed chunk, everything held (as backlog) while the socket is full.
 */
import type { HttpResponse } from '../http/http1-exchange.js';
import { GatheredWrites, type SharedFlush } from './gathered-writes.js';
import { jsonFrame, KEEPALIVE_FRAMES, type StreamVersion } from './watch-binary-format.js';
import { binaryVersion, sseFrame, type StreamFormat } from './watch-event.js';
import type { WatchOutput } from './watcher.js';

/** CUT_GRACE_MS is how long a stream that was told to resume may take to drain before it is closed. */
export const CUT_GRACE_MS = 30000;

/** SseOutput writes events to one streaming response. */
export class SseOutput implements WatchOutput {
  private readonly res: HttpResponse;
  private readonly writes: GatheredWrites;
  readonly format: StreamFormat;
  /** version is the binary stream's version; undefined over SSE. */
  private readonly version: StreamVersion | undefined;
  private ended = false;
  // a last event was sent: the response ends once it is written
  private ending = false;

  private readonly onEnd: () => void;
  /** closer closes a stream told to resume that did not drain in time; cleared once it ended. */
  private closer: NodeJS.Timeout | undefined;

  /**
   * `onEnd` runs once when this output ends the response (after a last event) or the response is
   * aborted (the client left, the node stopped): this output registers the response's abort. The
   * response's head is written by the caller; `begin` writes the stream's first bytes.
   */
  constructor(res: HttpResponse, format: StreamFormat, onEnd: () => void) {
    this.res = res;
    this.format = format;
    this.version = binaryVersion(format);
    this.onEnd = onEnd;
    this.writes = new GatheredWrites({
      write: (data, framed) => (framed === undefined ? res.write(data) : res.writeFramed(data, framed)),
      gone: () => res.aborted,
    });
    res.onWritable(() => {
      this.writes.writable();
      if (this.ending) void this.finishIfDrained();
      return true;
    });
    res.onAborted(() => {
      this.aborted();
    });
  }

  /** begin sends the head with the stream's first bytes (the binary stream's version byte). */
  begin(): void {
    this.res.write(this.version === undefined ? new Uint8Array(0) : Buffer.from([this.version]));
  }

  emit(type: string, json: string, cursor: string): void {
    if (this.ended || this.ending) return;
    this.writes.add(
      this.version === undefined ? sseFrame(json, type, cursor) : jsonFrame(json, this.version),
    );
  }

  emitBlock(block: Buffer, cursor: string): void {
    if (this.ended || this.ending) return;
    this.writes.add(block);
    if (this.version !== undefined) return;
    // An id-only block sets the stream's last event id without dispatching an event (the SSE spec).
    this.writes.add(`id: ${cursor}\n\n`);
  }

  emitShared(flush: SharedFlush): void {
    if (this.ended || this.ending) return;
    this.writes.shared(flush);
  }

  /** keepAlive sends what no parser sees as an event: an SSE comment line, a keep-alive frame. */
  keepAlive(): void {
    if (this.ended || this.ending) return;
    this.writes.direct(
      this.version === undefined ? Buffer.from(': keep-alive\n\n') : KEEPALIVE_FRAMES[this.version],
    );
  }

  backlog(): number {
    return this.writes.backlog();
  }

  drained(): Promise<void> {
    if (this.ended) return Promise.resolve();
    return this.writes.drained();
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
      this.closer = setTimeout(() => {
        if (!this.ended && !this.res.aborted) this.res.close();
      }, CUT_GRACE_MS).unref();
  }

  /**
   * aborted forgets what waits unsent and the closer of a stream told to resume: the client is
   * gone. Kept, the closer held the stream, its connection and up to `max_buffer_bytes` of
   * backlog for CUT_GRACE_MS after the socket closed, per slow watcher that left: a client that
   * reads slowly and reconnects when told to resume (or gives up) piled them up.
   */
  private aborted(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.closer);
    this.closer = undefined;
    // The response is aborted: the flush drops what waits and resolves every drained() waiter.
    this.writes.flush(true);
    this.writes.release();
    this.onEnd();
  }

  /** finishIfDrained ends the response when everything is written; true when it is ended. */
  private finishIfDrained(): boolean {
    this.writes.flush();
    if (this.ended) return true;
    if (!this.writes.isIdle) return false;
    this.ended = true;
    clearTimeout(this.closer);
    this.writes.release();
    if (!this.res.aborted) this.res.end();
    // An ended response is never aborted: whoever waits for the stream's end is told here.
    this.onEnd();
    return true;
  }
}
