/**
 * Writing a connection's replies straight to its socket's handle, as node:net does under
 * `socket.write`, without the Writable stream's pass.
 *
 * `socket.write(buf)` goes through the Writable state machine (buffering checks, a write callback,
 * `afterWrite` on the next tick, the `'drain'` bookkeeping) before it reaches
 * `_writeGeneric`, which calls `handle.writeBuffer(req, buf)` with a `WriteWrap`. The front door
 * writes once per connection per turn, so that pass is a measurable part of the main thread per
 * request (docs/performance.md, "Reply writes straight to the handle"). `DirectWriter.write` calls
 * the handle itself, doing what Node 20's `lib/internal/stream_base_commons.js` does
 * (`writeGeneric` → `handleWriteReq` → `afterWriteDispatched`, and `onWriteComplete`):
 *
 * - The handle tries the write at once (`uv_try_write`). When the kernel took every byte,
 *   `streamBaseState[kLastWriteWasAsync]` is 0 and the write is over: nothing to keep, nothing
 *   will call back. Otherwise libuv queued the rest and calls `req.oncomplete(status)` later; the
 *   bytes must stay alive until then (`req.buffer`, `req._chunks`: a collected buffer is sent as
 *   freed memory, EFAULT), and the req object is held by the handle while it is in flight.
 * - A non-zero return is a write error (EPIPE, ECONNRESET): the socket is destroyed with it, as
 *   the stream's write callback does. A failed completion does the same; a completion after the
 *   socket was destroyed (libuv cancels queued writes on close) is only counted.
 * - `socket.bytesWritten` stays right: the handle counts what it was given (`_bytesDispatched`).
 * - Order: libuv keeps one write queue per handle and tries a write at once only when that
 *   queue is empty, so direct writes stay in order among themselves and with the stream's writes
 *   that reached the handle. Bytes still inside the stream (`socket.writableLength > 0`: corked, or
 *   written before) would be overtaken, so then, and while connecting, after `end()`, for a socket
 *   that is not a plain TCP `Socket` (TLS: its handle encrypts), or when the binding is missing,
 *   `write` falls back to `socket.write`.
 * - The WriteWrap: Node builds one per write. The handle keeps a req object only when the write
 *   goes async (`StreamBase::Write` attaches the native request to it then, and only then), so a
 *   writer keeps one spare req for its writes that complete at once and builds a new one after a
 *   write took it.
 *
 * Back-pressure, as the stream gives it: `write` returns false once the bytes not yet sent
 * (`unsent`: the stream's and those queued in libuv by direct writes) reach the socket's
 * `writableHighWaterMark`, and the writer's `onDrain` runs once every byte is out. Callers bound
 * what they buffer with `unsent` and `needDrain` instead of `writableLength` and
 * `writableNeedDrain`, which no longer see the direct writes.
 *
 * Accounting: a writer given an `UnsentAccount` (src/server/unsent-budget.ts) reports `unsent` to
 * it whenever it can have changed (after a write that left bytes behind, at each completion of a
 * queued write, at `'drain'`) and closes it with the socket: the process's budget of unsent bytes.
 * A write the kernel took whole, with nothing reported before, costs one comparison.
 *
 * `process.binding('stream_wrap')` is the binding Node's own modules use (allowed through
 * `process.binding` on Node 20 to 24); a runtime without it gets the fallback for every write.
 */
import { Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';
import type { UnsentAccount } from './unsent-budget.js';

/** WriteReq is a `WriteWrap` object as Node's net fills it. */
interface WriteReq {
  handle: StreamHandle;
  oncomplete: (status: number) => void;
  async: boolean;
  bytes: number;
  buffer: Uint8Array | null;
  _chunks?: unknown[];
  error?: string;
}

/** StreamHandle is the part of a TCP handle (`LibuvStreamWrap`) used here. */
interface StreamHandle {
  writeBuffer(req: WriteReq, data: Uint8Array): number;
  writeUtf8String(req: WriteReq, data: string): number;
  writev(req: WriteReq, chunks: (string | Uint8Array)[], allBuffers: boolean): number;
  readonly writeQueueSize: number;
}

/** StreamWrap is what is used of the `stream_wrap` binding. */
interface StreamWrap {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kBytesWritten: number;
  kLastWriteWasAsync: number;
}

/** WithHandle is a socket's private handle, as Node's own modules reach it. */
interface WithHandle {
  _handle: StreamHandle | null;
}

function loadStreamWrap(): StreamWrap | undefined {
  try {
    const binding = (process as unknown as { binding(name: string): Partial<StreamWrap> }).binding(
      'stream_wrap',
    );
    const { WriteWrap, streamBaseState, kBytesWritten, kLastWriteWasAsync } = binding;
    if (
      typeof WriteWrap !== 'function' ||
      !(streamBaseState instanceof Int32Array) ||
      typeof kBytesWritten !== 'number' ||
      typeof kLastWriteWasAsync !== 'number'
    )
      return undefined;
    return { WriteWrap, streamBaseState, kBytesWritten, kLastWriteWasAsync };
  } catch {
    return undefined;
  }
}

const STREAM_WRAP = loadStreamWrap();

/** writeError is the error a failed write destroys its socket with (Node's ErrnoException shape). */
function writeError(status: number, detail: string | undefined): Error {
  const code = getSystemErrorName(status);
  return Object.assign(new Error(`write ${code}${detail === undefined ? '' : ` (${detail})`}`), {
    errno: status,
    code,
    syscall: 'write',
  });
}

/** DirectWriter writes one socket's bytes through its handle (see the module comment). */
export class DirectWriter {
  private readonly socket: Socket;
  private readonly binding: StreamWrap | undefined;
  private readonly onDrain: () => void;
  // the connection's share of the process's unsent budget: told `unsent` when it may have changed
  private readonly account: UnsentAccount | undefined;
  // direct writes the handle still holds (async), each until its oncomplete
  private inFlight = 0;
  // a write returned false: onDrain runs once nothing is left unsent
  private blocked = false;
  // a req no write holds (the last write completed at once)
  private spare: WriteReq | undefined;
  private lastRetained = false;
  private readonly afterWrite = (status: number): void => {
    this.inFlight--;
    const socket = this.socket;
    if (socket.destroyed) return;
    if (status < 0) {
      socket.destroy(writeError(status, undefined));
      return;
    }
    this.account?.update(this.unsent);
    this.maybeDrained();
  };
  // the stream's write callback of a fallback write: its bytes left the stream
  private readonly afterStreamWrite = (): void => {
    if (!this.socket.destroyed) this.account?.update(this.unsent);
  };

  /**
   * `onDrain` runs after a write returned false, once every byte written is out; `account`, when
   * given, is told the unsent bytes (see the module comment).
   */
  constructor(socket: Socket, onDrain: () => void, account?: UnsentAccount) {
    this.socket = socket;
    this.onDrain = onDrain;
    this.account = account;
    if (account !== undefined)
      socket.once('close', () => {
        account.close();
      });
    const plain = socket.constructor === Socket && STREAM_WRAP !== undefined;
    const handle = (socket as unknown as WithHandle)._handle;
    this.binding =
      plain && handle !== null && typeof handle.writeBuffer === 'function' ? STREAM_WRAP : undefined;
    socket.on('drain', () => {
      this.account?.update(this.unsent);
      this.maybeDrained();
    });
  }

  /** unsent is the number of bytes written and not yet handed to the kernel. */
  get unsent(): number {
    const queued =
      this.inFlight > 0 ? ((this.socket as unknown as WithHandle)._handle?.writeQueueSize ?? 0) : 0;
    return this.socket.writableLength + queued;
  }

  /** needDrain is true from a write that returned false until `onDrain` runs. */
  get needDrain(): boolean {
    return this.blocked;
  }

  /**
   * retained says whether the last write keeps a reference to its bytes (they are still queued,
   * or went through the stream): the caller must not reuse them. After a write that completed at
   * once (false) the caller may overwrite them.
   */
  get retained(): boolean {
    return this.lastRetained;
  }

  /** write sends `data` (a string as UTF-8); false: wait for `onDrain` before writing more. */
  write(data: Uint8Array | string): boolean {
    const handle = this.handleForWrite();
    if (handle === undefined) return this.fallback(data);
    const req = this.take(handle);
    const err = typeof data === 'string' ? handle.writeUtf8String(req, data) : handle.writeBuffer(req, data);
    const async = this.dispatched(req, err);
    if (async && typeof data !== 'string') req.buffer = data;
    return this.settle(async);
  }

  /** writev sends `pieces` in one write (strings as UTF-8); false as for `write`. */
  writev(pieces: readonly (Uint8Array | string)[]): boolean {
    const handle = this.handleForWrite();
    if (handle === undefined) {
      const socket = this.socket;
      socket.cork();
      for (const p of pieces) this.fallback(p);
      socket.uncork();
      return !this.blocked;
    }
    let allBuffers = true;
    for (const p of pieces) if (typeof p === 'string') allBuffers = false;
    let chunks: (string | Uint8Array)[];
    if (allBuffers) chunks = pieces.slice();
    else {
      chunks = new Array<string | Uint8Array>(pieces.length * 2);
      for (let i = 0; i < pieces.length; i++) {
        chunks[2 * i] = pieces[i]!;
        chunks[2 * i + 1] = 'utf8';
      }
    }
    const req = this.take(handle);
    const err = handle.writev(req, chunks, allBuffers);
    const async = this.dispatched(req, err);
    if (async) req._chunks = chunks;
    return this.settle(async);
  }

  /** handleForWrite is the handle to write to, or undefined when the write must go through the stream. */
  private handleForWrite(): StreamHandle | undefined {
    if (this.binding === undefined) return undefined;
    const socket = this.socket;
    if (socket.writableLength > 0 || socket.connecting || !socket.writable) return undefined;
    return (socket as unknown as WithHandle)._handle ?? undefined;
  }

  private take(handle: StreamHandle): WriteReq {
    let req = this.spare;
    if (req === undefined) {
      req = new this.binding!.WriteWrap();
      req.handle = handle;
      req.oncomplete = this.afterWrite;
      req.async = false;
      req.bytes = 0;
      req.buffer = null;
      this.spare = req;
    }
    return req;
  }

  /** dispatched reads the outcome of a handle write (afterWriteDispatched); true when it went async. */
  private dispatched(req: WriteReq, err: number): boolean {
    const state = this.binding!.streamBaseState;
    const async = state[this.binding!.kLastWriteWasAsync] !== 0;
    if (err !== 0) {
      this.spare = undefined;
      this.socket.destroy(writeError(err, req.error));
      return false;
    }
    if (!async) return false;
    req.async = true;
    req.bytes = state[this.binding!.kBytesWritten]!;
    this.spare = undefined;
    this.inFlight++;
    return true;
  }

  private settle(async: boolean): boolean {
    this.lastRetained = async;
    if (this.socket.destroyed) return false;
    const account = this.account;
    if (account !== undefined && (async || account.bytes !== 0)) account.update(this.unsent);
    if (async && this.unsent >= this.socket.writableHighWaterMark) this.blocked = true;
    return !this.blocked;
  }

  private fallback(data: Uint8Array | string): boolean {
    this.lastRetained = true;
    const account = this.account;
    if (account === undefined) {
      if (!this.socket.write(data)) this.blocked = true;
    } else {
      if (!this.socket.write(data, this.afterStreamWrite)) this.blocked = true;
      if (!this.socket.destroyed) account.update(this.unsent);
    }
    return !this.blocked;
  }

  private maybeDrained(): void {
    if (!this.blocked || this.inFlight > 0 || this.socket.writableNeedDrain) return;
    this.blocked = false;
    this.onDrain();
  }
}
