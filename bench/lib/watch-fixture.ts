/**
 * The client side of the watch bench (bench/watch-bench.ts), kept cheap so that the bench's own
 * CPU, which shares the machine with the server and wrk, stays small and the same in every round:
 *   StreamCounter counts the put events of one watch response: the binary stream's put frames,
 *                either version (ChangeCounter, change-counter.ts: each change's seq checked
 *                above its shard's last, headers read where they lie) or, from a server
 *                without it, SSE's `event: put` lines (PutCounter); either exactly (an event
 *                split across two reads is counted once), allocating nothing per event
 *   ProbeWriter  PUTs one key at a time over one keep-alive HTTP/1.1 connection (a raw socket:
 *                no fetch machinery per request) and resolves at the 204
 */
import { connect, type Socket } from 'node:net';
import { ChangeCounter } from './change-counter.js';

/**
 * PUT_MARKER is the `event: put` line of a put event over SSE (docs/watch.md, "Events") with the
 * line feeds around it: every line of an SSE stream follows a line feed (the last one of the
 * event before, or of the chunk size line), and a key or value never puts one inside `data:` (it
 * is JSON), so the marker is found once per put event and nowhere else.
 */
export const PUT_MARKER = Buffer.from('\nevent: put\n', 'latin1');
const M = PUT_MARKER.length;
const LAST = PUT_MARKER[M - 1]!;

/**
 * MIN_PUT_EVENT is the shortest put event there is (one-digit shard and version, empty key and
 * value): a marker starts at the line feed before its event, so the next one starts at least
 * this many bytes later (at the last line feed of the event).
 */
export const MIN_PUT_EVENT = Buffer.byteLength(
  'event: put\ndata: {"type":"put","shard":0,"key":"","value":"","version":"0.1"}\n\n',
);

// Horspool's shift table for PUT_MARKER: how far the window may move given its last byte.
const SHIFT = new Uint8Array(256).fill(M);
for (let i = 0; i < M - 1; i++) SHIFT[PUT_MARKER[i]!] = M - 1 - i;

/** countPutMarkers counts PUT_MARKER in `b[from, end)` (Horspool's search, skipping MIN_PUT_EVENT after each). */
export function countPutMarkers(b: Uint8Array, from: number, end: number): number {
  let count = 0;
  let i = from;
  while (i + M <= end) {
    const x = b[i + M - 1]!;
    if (x === LAST && isMarkerAt(b, i)) {
      count++;
      i += MIN_PUT_EVENT;
    } else i += SHIFT[x]!;
  }
  return count;
}

function isMarkerAt(b: Uint8Array, at: number): boolean {
  for (let k = 0; k < M - 1; k++) if (b[at + k] !== PUT_MARKER[k]) return false;
  return true;
}

/** PutCounter counts the put events of one stream, read by read. */
export class PutCounter {
  /** count is the number of put markers seen so far. */
  count = 0;
  // the last M-1 bytes of the previous read, then the first M-1 of the current one
  private readonly seam = new Uint8Array(2 * (M - 1));
  private carried = 0;

  /** add counts the markers of one read, `b[0, n)` (a view the caller may reuse afterwards). */
  add(b: Uint8Array, n: number): void {
    // A marker split between the previous read and this one lies wholly in the seam.
    const head = Math.min(n, M - 1);
    this.seam.set(b.subarray(0, head), this.carried);
    this.count += countPutMarkers(this.seam, 0, this.carried + head) + countPutMarkers(b, 0, n);
    // The seam keeps what could start a marker that ends in the next read.
    const keep = Math.min(M - 1, this.carried + n);
    if (n >= keep) this.seam.set(b.subarray(n - keep, n), 0);
    else this.seam.copyWithin(0, this.carried + head - keep, this.carried + head);
    this.carried = keep;
  }
}

const CHUNK_SIZE = 0;
const CHUNK_DATA = 1;
const CHUNK_END = 2;

/**
 * StreamCounter counts the put events of one `GET /watch` response, read by read, whichever
 * stream the server answered with (its Content-Type): SSE (PutCounter, on the raw bytes) or the
 * binary stream (the chunked coding taken off here, ChangeCounter on the rest).
 */
export class StreamCounter {
  /** mode is what the response is, once its head was read. */
  mode: 'head' | 'sse' | 'bin' = 'head';
  readonly sse = new PutCounter();
  readonly bin = new ChangeCounter();
  private head = '';
  private sseHello = false;
  private chunkState = CHUNK_SIZE;
  private chunkSize = 0;
  // data bytes left in the current chunk, or line-end bytes left after it
  private chunkLeft = 0;

  /** count is the number of put events seen. */
  get count(): number {
    return this.mode === 'bin' ? this.bin.count : this.sse.count;
  }

  /** hello reports whether the stream's `hello` event was seen. */
  get hello(): boolean {
    return this.mode === 'bin' ? this.bin.hello : this.sseHello;
  }

  /** add takes one read, `b[0, n)` (a view the caller may reuse afterwards). */
  add(b: Buffer, n: number): void {
    let from = 0;
    if (this.mode === 'head') {
      this.head += b.toString('latin1', 0, n);
      const end = this.head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const binary = /^content-type:\s*application\/vnd\.distkv\.watch/im.test(this.head.slice(0, end));
      this.mode = binary ? 'bin' : 'sse';
      from = n - (this.head.length - (end + 4));
      this.head = '';
    }
    if (this.mode === 'sse') {
      this.sse.add(b, n);
      // `hello` comes first, before any put: only the first reads are searched for it as text.
      if (!this.sseHello) this.sseHello = b.toString('latin1', 0, n).includes('event: hello');
      return;
    }
    this.dechunk(b, from, n);
  }

  private dechunk(b: Buffer, from: number, end: number): void {
    let i = from;
    while (i < end) {
      if (this.chunkState === CHUNK_DATA) {
        const k = Math.min(this.chunkLeft, end - i);
        this.bin.data(b, i, i + k);
        this.chunkLeft -= k;
        i += k;
        if (this.chunkLeft === 0) {
          this.chunkState = CHUNK_END;
          this.chunkLeft = 2;
        }
      } else if (this.chunkState === CHUNK_END) {
        const k = Math.min(this.chunkLeft, end - i);
        this.chunkLeft -= k;
        i += k;
        if (this.chunkLeft === 0) this.chunkState = CHUNK_SIZE;
      } else {
        const c = b[i++]!;
        if (c === 0x0a) {
          // (a zero size ends the body: the stream's end, nothing more is read)
          this.chunkLeft = this.chunkSize;
          this.chunkState = this.chunkSize === 0 ? CHUNK_END : CHUNK_DATA;
          this.chunkSize = 0;
        } else if (c !== 0x0d) this.chunkSize = this.chunkSize * 16 + parseInt(String.fromCharCode(c), 16);
      }
    }
  }
}

/** ProbeWriter writes single keys over one keep-alive connection, one request at a time. */
export class ProbeWriter {
  private readonly socket: Socket;
  private answer = '';
  private waiting: ((status: number) => void) | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.answer += d;
      const end = this.answer.indexOf('\r\n\r\n');
      if (end < 0) return;
      // A 204 has no body: the head is the whole answer.
      const status = Number(this.answer.slice(9, 12));
      this.answer = this.answer.slice(end + 4);
      const w = this.waiting;
      this.waiting = undefined;
      w?.(status);
    });
  }

  /** open connects to 127.0.0.1:`port`. */
  static open(port: number): Promise<ProbeWriter> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1' }, () => {
        s.off('error', reject);
        resolve(new ProbeWriter(s));
      });
      s.once('error', reject);
    });
  }

  /** put writes `value` (ASCII) to `key` and resolves at the answer; anything but 204 rejects. */
  put(key: string, value: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const onClose = (): void => {
        reject(new Error('probe connection closed'));
      };
      this.socket.once('close', onClose);
      this.waiting = (status) => {
        this.socket.off('close', onClose);
        if (status === 204) resolve();
        else reject(new Error(`probe PUT /kv/${key} answered ${String(status)}`));
      };
      this.socket.write(
        `PUT /kv/${key} HTTP/1.1\r\nHost: b\r\nContent-Length: ${String(value.length)}\r\n\r\n${value}`,
      );
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
