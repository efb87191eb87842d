/**
 * Reading the front door's sockets into one buffer per listener instead of a fresh allocation per
 * read.
 *
 * A `net.Socket` in its usual mode has libuv allocate a 64 KiB buffer for every read (`malloc`,
 * then a `Buffer` object and the stream's `push`/`'data'` machinery). Under 50 connections of small
 * requests that allocation and its collection were about 8 % of the main thread (docs/performance.md,
 * "Reading sockets into one buffer"). Node's `onread` option reads into a buffer the caller gives
 * and calls back with the byte count, bypassing the stream's read side; it is offered for client
 * sockets, so `adopt` moves an accepted socket's handle (the server listens with
 * `pauseOnConnect`, so the handle has not started reading) into a socket built with `onread`.
 *
 * The contract this imposes: a chunk passed to `onChunk` is a view of the listener's buffer, valid
 * only during the call (the next read of any connection of the listener overwrites it). A reader
 * that keeps bytes past the call copies them. Writes go straight to the handle (direct-write.ts).
 *
 * A socket without a TCP handle to move (TLS: the handle is wrapped) keeps its `'data'` event, whose
 * chunks stay valid; `transient` tells the reader which kind it got.
 */
import { Socket } from 'node:net';

/** READ_BYTES is the size of a listener's read buffer: the most one read takes from a socket. */
export const READ_BYTES = 64 * 1024;

/** OnChunk receives the bytes of one read; `transient`: a view valid only during the call. */
export type OnChunk = (chunk: Buffer, transient: boolean) => void;

/** An accepted socket's private handle, as Node's own modules reach it. */
interface WithHandle {
  _handle: object | null;
}

/** SharedRead reads the sockets of one listener into one buffer. */
export class SharedRead {
  private readonly buffer = Buffer.allocUnsafe(READ_BYTES);

  /**
   * adopt returns the socket to use for `accepted` (accepted paused, `pauseOnConnect`): reading
   * starts and each read's bytes go to `onChunk`. `allowHalfOpen` must match the server's.
   */
  adopt(accepted: Socket, allowHalfOpen: boolean, onChunk: OnChunk): Socket {
    const owner = accepted as unknown as WithHandle;
    const handle = owner._handle;
    if (handle === null || accepted.constructor !== Socket) {
      accepted.on('data', (chunk: Buffer) => {
        onChunk(chunk, false);
      });
      accepted.resume();
      return accepted;
    }
    owner._handle = null;
    const buffer = this.buffer;
    const socket = new Socket({
      handle,
      allowHalfOpen,
      readable: true,
      writable: true,
      onread: {
        buffer,
        callback: (n: number): boolean => {
          onChunk(buffer.subarray(0, n), true);
          return true;
        },
      },
    } as ConstructorParameters<typeof Socket>[0]);
    // The accepted socket is the server's count of open connections: it closes with this one.
    socket.once('close', () => accepted.destroy());
    return socket;
  }
}
