/**
 * The client side of the watch bench (bench/watch-bench.ts), kept cheap so that the bench's own
 * CPU, which shares the machine with the server and wrk, stays small and the same in every round:
 *   StreamCounter counts the put events of one watch response: the binary stream's put frames
 *                (ChangeCounter: each change's seq checked above its shard's last, headers
 *                read where they lie) or, from a server without it, SSE's `event: put` lines
 *                (PutCounter); either exactly (an event split across two reads is counted
 *                once), allocating nothing per event
 *   ProbeWriter  PUTs one key at a time over one keep-alive HTTP/1.1 connection (a raw socket:
 *                no fetch machinery per request) and resolves at the 204
 */
import { connect, type Socket } from 'node:net';
import {
  CHANGE_HEADER,
  FRAME_HEADER,
  TYPE_DELETE,
  TYPE_EXPIRE,
  TYPE_JSON,
  TYPE_PUT,
  VERSION,
} from '../../src/watch/watch-binary-format.js';

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

/** PEEK is how much of a frame's start a ChangeCounter looks at: its headers and, with onKey, a key's first 64 bytes. */
const HEAD = FRAME_HEADER + CHANGE_HEADER;
const PEEK = HEAD + 64;
const SEQ_HI = 2 ** 32;

/** u32 reads a little-endian u32 (byte arithmetic: cheaper here than Buffer's reader in a hot loop). */
function u32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/**
 * ChangeCounter counts the put frames of a binary watch stream (src/watch/watch-binary-format.ts)
 * and checks that every change's seq is above the last one of its shard. It is given the stream's
 * bytes (the chunked coding removed) segment by segment and reads each frame's header where it
 * lies; only a header split between two segments is copied (into `carry`), and nothing is
 * allocated per frame.
 */
export class ChangeCounter {
  /** count is the number of put frames seen. */
  count = 0;
  /** disorder counts changes whose seq was not above the previous change of their shard. */
  disorder = 0;
  /** hello is set once the `hello` event was seen. */
  hello = false;
  /** onKey, when set, is told the key (its first 64 bytes) of every put. */
  onKey: ((key: string) => void) | undefined;
  // the last seq of each shard (packed: shard numbers are small)
  private readonly last: number[] = new Array<number>(64).fill(0);
  private readonly carry = Buffer.allocUnsafe(PEEK);
  private carried = 0;
  // bytes of the current frame still to pass over (after its first bytes were looked at)
  private skip = 0;
  private versionSeen = false;

  /** data takes the stream's bytes `b[from, end)`. */
  data(b: Buffer, from: number, end: number): void {
    let i = from;
    if (!this.versionSeen && i < end) {
      if (b[i] !== VERSION) throw new Error(`watch stream version ${String(b[i])}`);
      this.versionSeen = true;
      i++;
    }
    const peek = this.onKey === undefined ? HEAD : PEEK;
    while (i < end) {
      if (this.skip > 0) {
        const k = Math.min(this.skip, end - i);
        this.skip -= k;
        i += k;
        continue;
      }
      if (this.carried === 0) {
        // The usual case: whole frame starts, read where they lie.
        while (end - i >= peek) {
          const total = FRAME_HEADER + u32(b, i);
          this.frame(b, i, total);
          if (total > end - i) {
            this.skip = total - (end - i);
            return;
          }
          i += total;
        }
        if (end - i >= FRAME_HEADER) {
          const total = FRAME_HEADER + u32(b, i);
          if (end - i >= Math.min(total, peek)) {
            this.frame(b, i, total);
            if (total <= end - i) i += total;
            else {
              this.skip = total - (end - i);
              i = end;
            }
            continue;
          }
        }
        if (i === end) return;
      }
      // The frame's start is split: gather what is looked at in the carry.
      const want =
        this.carried >= FRAME_HEADER ? Math.min(FRAME_HEADER + u32(this.carry, 0), peek) : FRAME_HEADER;
      const k = Math.min(want - this.carried, end - i);
      b.copy(this.carry, this.carried, i, i + k);
      this.carried += k;
      i += k;
      if (this.carried < FRAME_HEADER) continue;
      const total = FRAME_HEADER + u32(this.carry, 0);
      if (this.carried < Math.min(total, peek)) continue;
      this.frame(this.carry, 0, total);
      this.skip = total - this.carried;
      this.carried = 0;
    }
  }

  /** frame looks at the frame of `total` bytes at `b[at]` (at least its first min(total, peek) bytes). */
  private frame(b: Buffer, at: number, total: number): void {
    const type = b[at + 4]!;
    if (type === TYPE_PUT || type === TYPE_DELETE || type === TYPE_EXPIRE) {
      const shard = b[at + 5]! | (b[at + 6]! << 8);
      const seq = u32(b, at + 11) + u32(b, at + 15) * SEQ_HI;
      if (seq <= (this.last[shard] ?? 0)) this.disorder++;
      this.last[shard] = seq;
      if (type !== TYPE_PUT) return;
      this.count++;
      if (this.onKey !== undefined) {
        const keyAt = at + HEAD;
        const keyEnd = Math.min(keyAt + (b[at + 19]! | (b[at + 20]! << 8)), at + Math.min(total, PEEK));
        this.onKey(b.toString('latin1', keyAt, keyEnd));
      }
    } else if (type === TYPE_JSON && !this.hello)
      this.hello = b.toString('latin1', at + FRAME_HEADER, at + Math.min(total, HEAD)).startsWith(HELLO);
  }
}

const HELLO = '{"type":"hello"';
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
