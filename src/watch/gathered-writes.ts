/**
 * The outgoing bytes of one watch stream, whatever carries them (an SSE response: sse-output.ts; a
 * WebSocket: ws-session.ts). Two kinds of writes (docs/watch.md, "Fan-out"):
 *  - the stream's own events (hello, catch-up, snapshot, progress) are gathered for GATHER_MS and
 *    go out as one write: the feeds of a watcher's shards deliver in different turns;
 *  - a broadcast's flush (broadcast.ts) is shared by every member: it is written at once, as it
 *    is, when nothing of the stream's own waits (with its pre-framed form, so a chunked response
 *    writes one buffer and frames nothing), else behind what waits.
 * While the socket is full (the sink's write returned false, until `writable`), everything waits
 * here and counts as backlog: what the watcher's buffer limit bounds.
 */

/** GATHER_MS is how long a stream's own events wait to be written together. */
export const GATHER_MS = 5;

/**
 * GATHER_MAX_BYTES ends a gather early: once this much waits, it is written at once. What is
 * gathered is not backlog (it leaves within GATHER_MS), so a catching-up stream, which reads more
 * until its backlog passes half its max_buffer_bytes, read on through a whole gather window: the
 * log of 4 shards went out as one write of many MiB to a client that read nothing (an SSE
 * response reports its socket full only from the write after the one that filled it).
 */
export const GATHER_MAX_BYTES = 64 * 1024;

/** SharedFlush is a broadcast's flush: its bytes, and the same bytes framed as one HTTP chunk (SSE). */
export interface SharedFlush {
  /** data is shared by every member: never modified. */
  data: Buffer;
  /** framed is `data` as one chunk of the chunked transfer coding (http1-exchange.ts), when built. */
  framed: Buffer | undefined;
}

/** WriteSink is where a stream's bytes go. */
export interface WriteSink {
  /** write sends `data` (or its `framed` form when given); false when the socket is full. */
  write(data: Buffer, framed: Buffer | undefined): boolean;
  /** gone reports whether the connection is closed (nothing more can be written). */
  gone(): boolean;
}

/** GatheredWrites holds what one stream has not written yet. */
export class GatheredWrites {
  private readonly sink: WriteSink;
  private pending: (string | Buffer)[] = [];
  // the UTF-8 bytes of `pending` (what the socket will be given)
  private pendingBytes = 0;
  private full = false;
  private scheduled = false;
  private waiters: (() => void)[] = [];

  constructor(sink: WriteSink) {
    this.sink = sink;
  }

  /** add gathers a piece of the stream's own for the next write (within GATHER_MS). */
  add(piece: string | Buffer): void {
    this.pending.push(piece);
    // A string leaves as UTF-8: its bytes, not its UTF-16 units, are what the buffer limit bounds.
    this.pendingBytes += typeof piece === 'string' ? Buffer.byteLength(piece) : piece.length;
    if (this.pendingBytes >= GATHER_MAX_BYTES && !this.full) this.flush();
    else this.schedule();
  }

  /** shared writes a broadcast's flush at once, or behind what still waits. */
  shared(flush: SharedFlush): void {
    if (this.pendingBytes > 0 || this.full) {
      this.add(flush.data);
      return;
    }
    if (this.sink.gone()) return;
    this.full = !this.sink.write(flush.data, flush.framed);
  }

  /** direct writes `data` now unless the socket is full (then it is dropped: a keep-alive). */
  direct(data: Buffer): void {
    if (this.full || this.sink.gone()) return;
    this.full = !this.sink.write(data, undefined);
  }

  /** writable: the socket drained; what waits is written. */
  writable(): void {
    this.full = false;
    // Nothing waiting: the write that emptied `pending` filled the socket, and its waiters wait for this.
    if (this.pendingBytes === 0) this.release();
    else this.flush();
  }

  /** isFull reports whether the socket is full (the last write returned false and it has not drained). */
  get isFull(): boolean {
    return this.full;
  }

  /** isIdle reports whether nothing waits and the socket is not full. */
  get isIdle(): boolean {
    return !this.full && this.pendingBytes === 0;
  }

  /** backlog counts only what waits for a full socket: a gathered write goes out within GATHER_MS. */
  backlog(): number {
    return this.full ? this.pendingBytes : 0;
  }

  /** drained resolves once nothing waits (or the connection is gone). */
  drained(): Promise<void> {
    if (this.pendingBytes === 0 || this.sink.gone()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** flush writes what waits as one buffer; `force` writes even into a full socket (a last message). */
  flush(force = false): void {
    if ((this.full && !force) || this.pendingBytes === 0) return;
    if (this.sink.gone()) {
      this.pending = [];
      this.pendingBytes = 0;
      this.release();
      return;
    }
    const pieces = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    const data =
      pieces.length === 1 && typeof pieces[0] !== 'string'
        ? pieces[0]!
        : Buffer.concat(pieces.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
    this.full = !this.sink.write(data, undefined);
    if (!this.full) this.release();
  }

  /** release resolves every drained() waiter (all was written, or the stream ended). */
  release(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }

  private schedule(): void {
    if (this.scheduled || this.full) return;
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      this.flush();
    }, GATHER_MS);
  }
}
