/**
 * Drivers send one operation at a time and report its status: RawDriver over its own keep-alive
 * socket (HTTP or RESP, see wire.ts), ClientDriver through the distkv client library (which routes
 * each key to its owner itself). Status 0 means the connection failed, STATUS_TIMEOUT that no answer
 * came within the driver's timeout (a RawDriver then drops the connection: a node that accepts and
 * never answers would otherwise hold it, silently, for the rest of the run); a RawDriver reconnects
 * on its next operation.
 */
import { connect, type Socket } from 'node:net';
import type { DistkvClient } from '../client/client.js';
import { DistkvError } from '../errors.js';
import type { RequestCache, ResponseParser, Wire } from './wire.js';

/** OP_ values are the operations of a mix. */
export const OP_GET = 0;
export const OP_SET = 1;
export const OP_DEL = 2;
export type Op = typeof OP_GET | typeof OP_SET | typeof OP_DEL;

/** STATUS_TIMEOUT is the status of an operation that got no answer in time (reported as "timeout"). */
export const STATUS_TIMEOUT = -1;
/** OP_TIMEOUT_MS is how long a RawDriver waits for an answer by default (the client library's default too). */
export const OP_TIMEOUT_MS = 10000;

/** Driver performs operations one at a time. */
export interface Driver {
  /** op performs operation `op` on key index `key` and calls `done` with its status. */
  op(op: Op, key: number, done: (status: number) => void): void;
  close(): void;
}

/** RawDriver is one keep-alive connection speaking `wire`. */
export class RawDriver implements Driver {
  private socket: Socket | undefined;
  private parser: ResponseParser;
  private done: ((status: number) => void) | undefined;
  private readonly host: string;
  private readonly port: number;
  private readonly wire: Wire;
  private readonly requests: RequestCache;
  private readonly timeoutMs: number;
  // The timeout costs no timer per operation: a sweep every SWEEP_MS (started at the first
  // operation) fails the one in flight when no operation was issued since it looked `timeoutMs` ago.
  private sweep: NodeJS.Timeout | undefined;
  private issued = 0;
  private seen = -1;
  private seenAt = 0;
  private readonly onResponse = (status: number): void => {
    const d = this.done;
    this.done = undefined;
    d?.(status);
  };

  constructor(host: string, port: number, wire: Wire, requests: RequestCache, timeoutMs = OP_TIMEOUT_MS) {
    this.host = host;
    this.port = port;
    this.wire = wire;
    this.requests = requests;
    this.timeoutMs = timeoutMs;
    this.parser = wire.parser();
  }

  op(op: Op, key: number, done: (status: number) => void): void {
    this.done = done;
    this.issued++;
    this.sweep ??= setInterval(this.check, Math.min(1000, Math.max(10, this.timeoutMs / 4))).unref();
    (this.socket ?? this.open()).write(this.requests.request(op, key));
  }

  close(): void {
    clearInterval(this.sweep);
    this.sweep = undefined;
    this.socket?.destroy();
    this.socket = undefined;
  }

  private readonly check = (): void => {
    const now = performance.now();
    if (this.done === undefined || this.seen !== this.issued) {
      this.seen = this.issued;
      this.seenAt = now;
      return;
    }
    if (now - this.seenAt < this.timeoutMs) return;
    // Dropped first, so its 'close' fails nothing: the next operation goes on a new connection.
    const s = this.socket;
    this.socket = undefined;
    s?.destroy();
    const d = this.done;
    this.done = undefined;
    d(STATUS_TIMEOUT);
  };

  private open(): Socket {
    // onread reads into one reused buffer, skipping the Readable stream machinery (a Buffer and a
    // 'data' event per read); the parsers copy whatever they must keep across reads.
    const s = connect({
      host: this.host,
      port: this.port,
      noDelay: true,
      onread: {
        buffer: Buffer.allocUnsafe(64 * 1024),
        callback: (n: number, buf: Uint8Array): boolean => {
          try {
            this.parser.feed(Buffer.from(buf.buffer, buf.byteOffset, n), this.onResponse);
          } catch {
            s.destroy();
          }
          return true;
        },
      },
    });
    this.parser = this.wire.parser();
    // A failed socket emits 'error' and then 'close': only the first, while `s` is still the
    // driver's socket, fails the operation in flight. By the 'close' the caller may have issued its
    // next operation on a new socket; failing that one too would let a third follow it onto the
    // same connection, and each answer would then complete the operation after its own.
    const fail = (): void => {
      if (this.socket !== s) return;
      this.socket = undefined;
      const d = this.done;
      this.done = undefined;
      d?.(0);
    };
    s.on('error', fail);
    s.on('close', fail);
    this.socket = s;
    return s;
  }
}

/** ClientDriver performs operations through a shared DistkvClient. */
export class ClientDriver implements Driver {
  private readonly client: DistkvClient;
  private readonly prefix: string;
  private readonly value: Buffer;

  constructor(client: DistkvClient, prefix: string, value: Buffer) {
    this.client = client;
    this.prefix = prefix;
    this.value = value;
  }

  op(op: Op, k: number, done: (status: number) => void): void {
    const key = `${this.prefix}${k}`;
    const value = this.value;
    const p =
      op === OP_GET
        ? this.client.get(key).then((v) => (v === undefined ? 404 : 200))
        : op === OP_SET
          ? this.client.put(key, value).then(() => 204)
          : this.client.delete(key).then(() => 204);
    p.then(done, (err: unknown) => {
      // The client's connection failures (an answer lost after the request was sent too) count as 0.
      const lost =
        err instanceof DistkvError && (err.code === 'SHARD_UNREACHABLE' || err.code === 'OUTCOME_UNKNOWN');
      done(err instanceof DistkvError && !lost ? err.status : 0);
    });
  }

  close(): void {
    // the client is shared by the thread's drivers and closed by the thread
  }
}
